"""Computing collective results: ReduceOps applied in place, and schedules run on real tensors."""

from __future__ import annotations

import torch

from ._ops import red_type

__all__ = ["Combine", "flat_view", "reduce_in_order", "run_schedule", "splits"]


class Combine:
    """Pairwise reduction for one ReduceOp, in place on the receiver, dtype preserved."""

    def __init__(self, reduce_op, n: int) -> None:
        name = red_type(reduce_op)
        self.name = name
        self.n = n
        self.factor = None
        if name == "PREMUL_SUM":
            self.factor = _premul_factor(reduce_op)

    def prepare(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.factor is not None:
            return tensor * self.factor
        return tensor

    def __call__(self, into: torch.Tensor, other: torch.Tensor) -> None:
        name = self.name
        if name in ("SUM", "AVG", "PREMUL_SUM"):
            if into.dtype == torch.bool:
                into.logical_or_(other)
            else:
                into.add_(other)
        elif name == "PRODUCT":
            if into.dtype == torch.bool:
                into.logical_and_(other)
            else:
                into.mul_(other)
        elif name == "MIN":
            torch.minimum(into, other, out=into)
        elif name == "MAX":
            torch.maximum(into, other, out=into)
        elif name == "BAND":
            into.bitwise_and_(other)
        elif name == "BOR":
            into.bitwise_or_(other)
        elif name == "BXOR":
            into.bitwise_xor_(other)
        else:  # pragma: no cover - torch has no other ReduceOp
            raise RuntimeError(f"unsupported ReduceOp {name}")

    def finish(self, tensor: torch.Tensor) -> None:
        if self.name == "AVG":
            tensor.div_(self.n)  # on integer tensors torch raises: "result type Float can't be cast …"


def _premul_factor(reduce_op) -> float:
    for attribute in ("_factor", "factor"):
        value = getattr(reduce_op, attribute, None)
        if value is not None:
            return float(value)
    return 1.0


def run_schedule(steps, buffers: list[torch.Tensor], combine: Combine | None) -> None:
    """Move (and combine) chunks between the ranks' flat buffers exactly as the schedule says."""
    views: dict[int, list] = {}  # chunk views stay valid: buffers change in place
    for step in steps:
        if step.chunks not in views:
            views[step.chunks] = [torch.tensor_split(b, step.chunks) for b in buffers] if step.chunks > 1 else (
                [[b] for b in buffers]
            )
        chunked = views[step.chunks]
        written = {(t.dst, t.chunk) for t in step.transfers}
        payloads = []
        for t in step.transfers:
            data = chunked[t.src][t.chunk]
            payloads.append(data.clone() if (t.src, t.chunk) in written else data)
        for t, data in zip(step.transfers, payloads, strict=True):
            target = chunked[t.dst][t.chunk]
            if step.reduce and combine is not None:
                combine(target, data)
            else:
                target.copy_(data)



def flat_view(tensor: torch.Tensor) -> torch.Tensor:
    """A 1-D view sharing the tensor's memory when it can (all-reduce works in place)."""
    return tensor.view(-1) if tensor.is_contiguous() else tensor.reshape(-1).clone()


GLOO_MAX_SEGMENT_BYTES = 1 << 20  # gloo::AllreduceOptions::kMaxSegmentSize


def gloo_ring_all_reduce(flats: list[torch.Tensor], combine: Combine) -> torch.Tensor:
    """The all-reduced values exactly as gloo's ring algorithm computes them (torch 2.13's gloo).

    gloo splits the buffer into ``n × P`` segments (at least two per rank, at most 1 MiB
    each) and chunk ``c`` (``P`` segments) is reduced along the ring starting at rank
    ``c - 1``: each rank adds its own value to what it received, so chunk ``c`` ends as
    ``x[c] ∘ (x[c+1] ∘ (… ∘ (x[c-2] ∘ x[c-1])))``. Floating-point sums over three or
    more ranks depend on that nesting; this reproduces it bit for bit.
    """
    n, total = len(flats), flats[0].numel()
    element = flats[0].element_size()
    segments = -(-max(-(-total * element // GLOO_MAX_SEGMENT_BYTES), 2 * n) // n) * n
    per_rank = segments // n
    per_segment = -(-total // segments)
    result = torch.empty_like(flats[0])
    for chunk in range(n):
        start, stop = chunk * per_rank * per_segment, min((chunk + 1) * per_rank * per_segment, total)
        if start >= stop:
            continue
        order = [(chunk + j) % n for j in range(n)]
        acc = flats[order[-1]][start:stop].clone()
        for rank in reversed(order[:-1]):
            combine(acc, flats[rank][start:stop])  # x ∘ acc == acc ∘ x bit for bit: the ops commute
        result[start:stop] = acc
    return result


def reduce_in_order(flats: list[torch.Tensor], combine: Combine, root: int) -> None:
    target = flats[root]
    for i, f in enumerate(flats):
        if i != root:
            combine(target, f)


def splits(tensor: torch.Tensor, sizes: list[int] | None, n: int) -> list[torch.Tensor]:
    if not sizes:
        return list(torch.chunk(tensor, n))
    return list(torch.split(tensor, sizes))
