"""Collective algorithms as schedules of point-to-point steps, and their α-β-γ cost.

A schedule says, step by step, which rank sends which chunk to whom; ranks are
positions 0..n-1 within the group. Steps are synchronous: a step ends when its
slowest transfer (plus its reduction) ends. Costs follow the Hockney model with
separate intra- and inter-node links; bus bandwidth uses nccl-tests' factors.

Pure Python, no torch: the same schedules drive the simulator's data movement,
its timings, and the step-by-step diagrams.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

from .._errors import ConfigError
from ..documents._cost import CostModelSummary

__all__ = [
    "ALGORITHMS",
    "ALL_REDUCE_ALGORITHMS",
    "DEFAULT_SOURCE",
    "CostModel",
    "Step",
    "Transfer",
    "bus_factor",
    "choose_algorithm",
    "schedule",
    "step_count",
]


@dataclass(frozen=True, slots=True)
class Transfer:
    """``src`` sends its chunk ``chunk`` (``nbytes`` bytes) to ``dst``."""

    src: int
    dst: int
    chunk: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class Step:
    """One synchronous round of transfers; ``reduce`` means the receiver combines, not copies.

    The buffer is split into ``chunks`` equal parts (n for ring schedules, 1 when whole
    buffers move); a transfer's ``chunk`` indexes them.
    """

    phase: str
    transfers: tuple[Transfer, ...]
    reduce: bool
    chunks: int = 1


def _chunk_bytes(nbytes: int, n: int) -> int:
    return -(-nbytes // n)  # ceil: the largest chunk bounds the step


def ring_reduce_scatter(n: int, nbytes: int) -> list[Step]:
    """n-1 steps; in step s rank r sends chunk (r - s) mod n to r + 1 and adds the one it gets.

    After the last step rank r holds the full reduction of chunk (r + 1) mod n.
    """
    size = _chunk_bytes(nbytes, n)
    return [
        Step("reduce_scatter", tuple(Transfer(r, (r + 1) % n, (r - s) % n, size) for r in range(n)), True, n)
        for s in range(n - 1)
    ]


def ring_all_gather(n: int, nbytes: int, *, after_reduce_scatter: bool = True) -> list[Step]:
    """n-1 steps of forwarding chunks around the ring.

    Following a ring reduce-scatter, rank r starts with chunk (r + 1) mod n and in step s
    sends chunk (r + 1 - s) mod n; a plain all-gather starts from chunk r.
    """
    size = _chunk_bytes(nbytes, n)
    offset = 1 if after_reduce_scatter else 0
    return [
        Step("all_gather", tuple(Transfer(r, (r + 1) % n, (r + offset - s) % n, size) for r in range(n)), False, n)
        for s in range(n - 1)
    ]


def binomial_reduce(n: int, nbytes: int, root: int = 0) -> list[Step]:
    """⌈log2 n⌉ steps: at distance d = 1, 2, 4, … rank v+d sends its partial sum to v (v a multiple of 2d)."""
    steps, distance = [], 1
    while distance < n:
        transfers = []
        for v in range(0, n, 2 * distance):
            if v + distance < n:
                transfers.append(Transfer((v + distance + root) % n, (v + root) % n, 0, nbytes))
        steps.append(Step("reduce", tuple(transfers), True))
        distance *= 2
    return steps


def binomial_broadcast(n: int, nbytes: int, root: int = 0) -> list[Step]:
    """⌈log2 n⌉ steps: the set of ranks holding the data doubles each step."""
    return [
        Step("broadcast", tuple(Transfer(t.dst, t.src, t.chunk, t.nbytes) for t in step.transfers), False)
        for step in reversed(binomial_reduce(n, nbytes, root))
    ]


def recursive_doubling(n: int, nbytes: int) -> list[Step]:
    """All-reduce by pairwise exchange at distances 1, 2, 4, …; extra ranks fold in first.

    For n not a power of two the top n - p ranks (p = 2^⌊log2 n⌋) send to rank - p first
    and get the result back at the end.
    """
    p = 1 << (n.bit_length() - 1)
    steps = []
    extra = n - p
    if extra:
        steps.append(Step("fold", tuple(Transfer(p + i, i, 0, nbytes) for i in range(extra)), True))
    distance = 1
    while distance < p:
        transfers = tuple(Transfer(r, r ^ distance, 0, nbytes) for r in range(p))
        steps.append(Step("exchange", transfers, True))
        distance *= 2
    if extra:
        steps.append(Step("unfold", tuple(Transfer(i, p + i, 0, nbytes) for i in range(extra)), False))
    return steps


def _allreduce_ring(n: int, nbytes: int, root: int) -> list[Step]:
    return ring_reduce_scatter(n, nbytes) + ring_all_gather(n, nbytes)


def _allreduce_tree(n: int, nbytes: int, root: int) -> list[Step]:
    return binomial_reduce(n, nbytes, 0) + binomial_broadcast(n, nbytes, 0)


def _allreduce_rd(n: int, nbytes: int, root: int) -> list[Step]:
    return recursive_doubling(n, nbytes)


def _allgather_ring(n: int, nbytes: int, root: int) -> list[Step]:
    return ring_all_gather(n, nbytes, after_reduce_scatter=False)


def _reduce_scatter_ring(n: int, nbytes: int, root: int) -> list[Step]:
    # Shift so that rank r ends with chunk r (the ring naturally leaves chunk r + 1 on rank r).
    size = _chunk_bytes(nbytes, n)
    return [
        Step("reduce_scatter", tuple(Transfer(r, (r + 1) % n, (r - s - 1) % n, size) for r in range(n)), True, n)
        for s in range(n - 1)
    ]


def _broadcast_tree(n: int, nbytes: int, root: int) -> list[Step]:
    return binomial_broadcast(n, nbytes, root)


def _reduce_tree(n: int, nbytes: int, root: int) -> list[Step]:
    return binomial_reduce(n, nbytes, root)


# (collective, algorithm) -> schedule builder taking (n, total bytes, root)
ALGORITHMS: dict[tuple[str, str], Callable[[int, int, int], list[Step]]] = {
    ("all_reduce", "ring"): _allreduce_ring,
    ("all_reduce", "tree"): _allreduce_tree,
    ("all_reduce", "recursive_doubling"): _allreduce_rd,
    ("all_gather", "ring"): _allgather_ring,
    ("reduce_scatter", "ring"): _reduce_scatter_ring,
    ("broadcast", "tree"): _broadcast_tree,
    ("reduce", "tree"): _reduce_tree,
}

ALL_REDUCE_ALGORITHMS: tuple[str, ...] = tuple(sorted(a for (op, a) in ALGORITHMS if op == "all_reduce"))


@functools.lru_cache(maxsize=32)
def schedule(op: str, algorithm: str, n: int, nbytes: int, root: int = 0) -> tuple[Step, ...]:
    """The steps of ``op`` with ``algorithm`` over ``n`` ranks (``nbytes``: the whole buffer).

    Cached: a training loop repeats the same collectives, and steps are immutable.
    """
    if n <= 1:
        return ()
    return tuple(ALGORITHMS[(op, algorithm)](n, nbytes, root))


def step_count(op: str, algorithm: str, n: int) -> int:
    """How many steps a schedule has, without building it (for very large groups)."""
    if n <= 1:
        return 0
    log = math.ceil(math.log2(n))
    if op == "all_reduce":
        if algorithm == "ring":
            return 2 * (n - 1)
        if algorithm == "tree":
            return 2 * log
        p = 1 << (n.bit_length() - 1)
        return (p.bit_length() - 1) + (2 if n != p else 0)
    if op in ("all_gather", "reduce_scatter"):
        return n - 1
    return log


DEFAULT_SOURCE = "defaults: NVLink-class, not measured"


def _gbps(beta: float) -> str:
    return "∞" if beta == 0 else f"{1 / beta / 1e9:g}"


@dataclass(frozen=True, slots=True)
class CostModel:
    """α-β-γ: latency (s) and inverse bandwidth (s/byte) within and between nodes; γ per reduced byte.

    Defaults are of the order of NVLink inside a node and a 200 Gb/s NIC between nodes.
    """

    alpha_intra: float = 2e-6
    beta_intra: float = 1 / 150e9
    alpha_inter: float = 10e-6
    beta_inter: float = 1 / 25e9
    gamma: float = 1 / 500e9

    def __post_init__(self) -> None:
        for name in ("alpha_intra", "beta_intra", "alpha_inter", "beta_inter", "gamma"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ConfigError(f"{name} must be finite and not negative")

    def for_collective(self, op: str, algorithm: str, nbytes: int) -> CostModel:
        """The α-β-γ that price one ``op`` of ``nbytes`` run with ``algorithm``: here the same for
        every collective; a measured profile (``ProfileCostModel``) gives each its own."""
        return self

    def candidates(self, op: str) -> tuple[str, ...] | None:
        """The algorithms ``auto`` may choose from for ``op``; None: every one simdist knows."""
        return None

    def describe(self) -> str:
        """Where the numbers come from, in one line (the timeline, trace and report print it)."""
        default = CostModel()
        if type(self) is CostModel and all(math.isclose(getattr(self, f), getattr(default, f), rel_tol=1e-9)
                                           for f in ("alpha_intra", "beta_intra", "alpha_inter", "beta_inter", "gamma")):
            return DEFAULT_SOURCE
        return (f"given values, not measured: α {self.alpha_intra * 1e6:g}/{self.alpha_inter * 1e6:g} µs, "
                f"{_gbps(self.beta_intra)}/{_gbps(self.beta_inter)} GB/s within/between machines")  # fmt: skip

    def summary(self) -> CostModelSummary:
        """``describe()`` and the numbers, for the trace's ``cost_model`` key."""
        return CostModelSummary(source=self.describe(), alpha_intra=self.alpha_intra, beta_intra=self.beta_intra,
                                alpha_inter=self.alpha_inter, beta_inter=self.beta_inter, gamma=self.gamma)  # fmt: skip

    def transfer_time(self, nbytes: int, same_node: bool) -> float:
        if same_node:
            return self.alpha_intra + nbytes * self.beta_intra
        return self.alpha_inter + nbytes * self.beta_inter

    def step_time(self, step: Step, same_node: Callable[[int, int], bool]) -> float:
        slowest = 0.0
        for t in step.transfers:
            cost = self.transfer_time(t.nbytes, same_node(t.src, t.dst))
            if step.reduce:
                cost += t.nbytes * self.gamma
            slowest = max(slowest, cost)
        return slowest

    def estimate(self, op: str, algorithm: str, n: int, nbytes: int, inter_node: bool) -> float:
        """Closed-form time of a schedule, for groups too large to enumerate (worst link for every step)."""
        if n <= 1:
            return 0.0
        alpha = self.alpha_inter if inter_node else self.alpha_intra
        beta = self.beta_inter if inter_node else self.beta_intra
        steps = step_count(op, algorithm, n)
        if algorithm == "ring":
            chunk = _chunk_bytes(nbytes, n)
            reduce_steps = n - 1 if op in ("all_reduce", "reduce_scatter") else 0
            return steps * (alpha + chunk * beta) + reduce_steps * chunk * self.gamma
        reduce_steps = steps if op == "reduce" or algorithm == "recursive_doubling" else steps // 2
        if op == "broadcast":
            reduce_steps = 0
        return steps * (alpha + nbytes * beta) + reduce_steps * nbytes * self.gamma


def choose_algorithm(op: str, n: int, nbytes: int, model: CostModel, inter_node: bool) -> str:
    """The cheapest algorithm the model knows for ``op`` (NCCL likewise picks by estimated time)."""
    candidates = sorted(a for (o, a) in ALGORITHMS if o == op and a in (model.candidates(op) or (a,)))
    if not candidates:
        return "direct"
    return min(candidates, key=lambda a: (model.for_collective(op, a, nbytes).estimate(op, a, n, nbytes, inter_node), a))


def bus_factor(op: str, n: int) -> float:
    """nccl-tests' busbw / algbw correction (doc/PERFORMANCE.md)."""
    if n <= 1:
        return 1.0
    if op == "all_reduce":
        return 2 * (n - 1) / n
    if op in ("reduce_scatter", "all_gather", "all_to_all"):
        return (n - 1) / n
    return 1.0
