"""Plain-Python oracles: what torch 2.13 does, written as directly as possible.

They are deliberately independent of the simulator's machinery (no kernel, no
store), so that a test comparing the two catches a modelling mistake in either.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "c10d_group_order",
    "expected_ranks",
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
