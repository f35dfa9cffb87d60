"""Plain-Python oracles: what torch 2.13 does, written as directly as possible.

They are deliberately independent of the simulator's machinery (no kernel, no
store), so that a test comparing the two catches a modelling mistake in either.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "c10d_group_order",
    "expected_ranks",
    "reference_collective",
    "reference_reduce",
    "rendezvous_bound",
    "static_launch_succeeds",
]


def expected_ranks(nprocs_in_group_order: Sequence[int]) -> list[range]:
    """RANKs of each node, in group-rank order: prefix sums of LOCAL_WORLD_SIZE."""
    ranges, base = [], 0
    for nproc in nprocs_in_group_order:
        ranges.append(range(base, base + nproc))
        base += nproc
    return ranges


def c10d_group_order(descriptors: Sequence[tuple[str, int]]) -> list[int]:
    """Indices of agents in group-rank order: sorted by (address, pid), as c10d does."""
    return sorted(range(len(descriptors)), key=lambda i: (descriptors[i][0], descriptors[i][1]))


def static_launch_succeeds(starts: Sequence[float], timeout: float) -> bool:
    """Static rendezvous completes iff every node starts within ``timeout`` s of node 0.

    Node 0 waits ``timeout`` for the others; a node that starts first waits
    ``timeout`` for node 0's store to appear.
    """
    return all(abs(start - starts[0]) < timeout for start in starts)


def rendezvous_bound(backend: str, timeout: float, read_timeout: float = 60.0) -> float:
    """The longest an agent can stay in rendezvous before torch gives up, seconds.

    static: connect (≤ timeout), wait for clients (≤ timeout), two store waits while
    assigning ranks (≤ timeout each). c10d: join_timeout, plus store waits.
    """
    if backend == "static":
        return 4 * timeout
    return timeout + 3 * read_timeout + 1.0


# -- collectives ----------------------------------------------------------------------------------
# Reference results computed directly from every rank's input, with no schedule, no engine.

_REDUCERS = {
    "SUM": lambda xs: _fold(xs, lambda a, b: a + b if a.dtype != _bool() else a | b),
    "PRODUCT": lambda xs: _fold(xs, lambda a, b: a * b if a.dtype != _bool() else a & b),
    "MIN": lambda xs: _fold(xs, lambda a, b: _torch().minimum(a, b)),
    "MAX": lambda xs: _fold(xs, lambda a, b: _torch().maximum(a, b)),
    "BAND": lambda xs: _fold(xs, lambda a, b: a & b),
    "BOR": lambda xs: _fold(xs, lambda a, b: a | b),
    "BXOR": lambda xs: _fold(xs, lambda a, b: a ^ b),
}


def _torch():
    import torch

    return torch


def _bool():
    return _torch().bool


def _fold(xs, combine):
    acc = xs[0].clone()
    for x in xs[1:]:
        acc = combine(acc, x)
    return acc


def reference_reduce(inputs: Sequence, op: str):
    """The reduction of every rank's tensor under ReduceOp ``op`` (AVG: the mean, same dtype)."""
    if op == "AVG":
        total = _REDUCERS["SUM"](list(inputs))
        return total / len(inputs)
    return _REDUCERS[op](list(inputs))


def reference_collective(kind: str, inputs: Sequence, *, op: str = "SUM", root: int = 0) -> list:
    """What each rank holds after ``kind``, from the inputs alone (None: unspecified)."""
    torch = _torch()
    n = len(inputs)
    if kind == "all_reduce":
        return [reference_reduce(inputs, op)] * n
    if kind == "reduce":
        return [reference_reduce(inputs, op) if r == root else None for r in range(n)]
    if kind == "broadcast":
        return [inputs[root]] * n
    if kind == "all_gather":
        return [torch.stack(list(inputs))] * n
    if kind == "all_gather_into_tensor":
        return [torch.cat(list(inputs))] * n
    if kind in ("reduce_scatter", "reduce_scatter_tensor"):
        total = reference_reduce(inputs, op)
        return list(torch.chunk(total, n))
    if kind == "all_to_all_single":
        return [torch.cat([torch.chunk(inputs[j], n)[i] for j in range(n)]) for i in range(n)]
    if kind == "gather":
        return [torch.stack(list(inputs)) if r == root else None for r in range(n)]
    if kind == "scatter":
        return list(torch.chunk(inputs[root], n))
    raise ValueError(f"no reference for {kind}")
