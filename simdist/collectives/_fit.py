"""Fitting α (latency) and β (seconds per byte) to measured collective times.

A collective of ``S`` bytes over ``n`` ranks takes, in simdist's model,
``t = kα·α + kβ·β``: ``kα`` is the number of steps of its schedule and ``kβ`` the
bytes on its critical path (for a ring all-reduce, 2(n−1) and 2(n−1)/n·S). The
coefficients come from the very code that times a simulated collective
(:func:`coefficients`), so a fitted profile predicts exactly what the simulator
then computes.

The fit minimises the *relative* error, so microsecond latencies and second-long
transfers count alike, with a Huber loss (squared up to 10 %, linear beyond) so that a
point a noisy moment spoiled does not drag the line. Real machines change regime
with size (a buffer that no longer fits in cache, NCCL switching protocols): when
one line misses some point by more than ``tolerance``, the size range is split
where that helps most, into at most ``max_segments`` pieces of at least
``min_sizes`` sizes each, each with its own α and β.

Pure Python, stdlib only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._algorithms import CostModel, schedule

__all__ = ["FitPoint", "Segment", "coefficients", "fit_segments", "predict_segments", "relative_residual"]

MAX_SCHEDULED_GROUP = 256  # ranks; the engine times larger groups with the closed forms (see _engine)
DIRECT = "direct"  # one transfer of the whole buffer (all_to_all, gather, scatter, send/recv)

_UNIT_ALPHA = CostModel(alpha_intra=1.0, beta_intra=0.0, alpha_inter=1.0, beta_inter=0.0, gamma=0.0)
_UNIT_BETA = CostModel(alpha_intra=0.0, beta_intra=1.0, alpha_inter=0.0, beta_inter=1.0, gamma=0.0)


@functools.lru_cache(maxsize=4096)
def coefficients(op: str, algorithm: str, n: int, nbytes: int, root: int = 0) -> tuple[float, float]:
    """(kα, kβ): how many α and how many β one ``op`` of ``nbytes`` over ``n`` ranks costs.

    Evaluated with the simulator's own timing (every link alike, no γ): with
    α = 1, β = 0 the time is kα; with α = 0, β = 1 it is kβ.
    """
    if n <= 1:
        return 0.0, 0.0
    if algorithm == DIRECT:
        return 1.0, float(nbytes)
    if n > MAX_SCHEDULED_GROUP:
        return (_UNIT_ALPHA.estimate(op, algorithm, n, nbytes, False),
                _UNIT_BETA.estimate(op, algorithm, n, nbytes, False))  # fmt: skip
    steps = schedule(op, algorithm, n, nbytes, root)
    same = lambda a, b: True  # noqa: E731 - one link class at a time
    return (sum(_UNIT_ALPHA.step_time(s, same) for s in steps), sum(_UNIT_BETA.step_time(s, same) for s in steps))


@dataclass(frozen=True, slots=True)
class FitPoint:
    """One measurement: ``time`` seconds for ``nbytes``, whose model cost is ``k_alpha``·α + ``k_beta``·β."""

    nbytes: int
    k_alpha: float
    k_beta: float
    time: float


@dataclass(frozen=True, slots=True)
class Segment:
    """α and β for the sizes ``min_bytes``..``max_bytes`` (the measured ones it was fitted on)."""

    min_bytes: int
    max_bytes: int
    alpha: float
    beta: float

    def to_dict(self) -> dict:
        return {"min_bytes": self.min_bytes, "max_bytes": self.max_bytes, "alpha": self.alpha, "beta": self.beta}


def relative_residual(predicted: float, measured: float) -> float:
    """(predicted − measured) / measured: +0.1 means the model says 10 % slower than measured."""
    return (predicted - measured) / measured


HUBER = 0.1  # relative residuals beyond 10 % count linearly, not squared: one noisy point cannot drag the line


def _weighted(points: Sequence[FitPoint], weights: Sequence[float]) -> tuple[float, float]:
    """Weighted least squares of the relative error over α, β ≥ 0 (closed form, the bounds as fallbacks)."""
    a = b = c = d = e = 0.0
    for p, u in zip(points, weights, strict=True):
        w = u / (p.time * p.time)
        a += w * p.k_alpha * p.k_alpha
        b += w * p.k_alpha * p.k_beta
        c += w * p.k_beta * p.k_beta
        d += w * p.k_alpha * p.time
        e += w * p.k_beta * p.time
    det = a * c - b * b
    # Collinear regressors (one size only, or kα ∝ kβ): α and β cannot be told apart.
    if det > 1e-12 * a * c and a > 0 and c > 0:
        alpha, beta = (d * c - b * e) / det, (a * e - b * d) / det
        if alpha >= 0 and beta >= 0:
            return alpha, beta
    candidates = []
    if c > 0:
        candidates.append((0.0, e / c))
    if a > 0:
        candidates.append((d / a, 0.0))
    if not candidates:
        return 0.0, 0.0
    return min(candidates, key=lambda ab: (_loss(points, *ab), ab))


def _solve(points: Sequence[FitPoint]) -> tuple[float, float]:
    """α, β ≥ 0 minimising the Huber loss of the relative errors (iteratively reweighted least squares)."""
    weights = [1.0] * len(points)
    alpha, beta = _weighted(points, weights)
    for _ in range(30):
        weights = [min(1.0, HUBER / max(abs(relative_residual(p.k_alpha * alpha + p.k_beta * beta, p.time)), 1e-300))
                   for p in points]  # fmt: skip
        new = _weighted(points, weights)
        if abs(new[0] - alpha) <= 1e-12 * max(abs(alpha), 1e-30) and abs(new[1] - beta) <= 1e-12 * max(abs(beta), 1e-30):
            alpha, beta = new
            break
        alpha, beta = new
    return alpha, beta


def _loss(points: Sequence[FitPoint], alpha: float, beta: float) -> float:
    """Huber loss of the relative residuals: squared up to HUBER, linear beyond."""
    total = 0.0
    for p in points:
        r = abs(relative_residual(p.k_alpha * alpha + p.k_beta * beta, p.time))
        total += 0.5 * r * r if r <= HUBER else HUBER * (r - 0.5 * HUBER)
    return total


def _worst(points: Sequence[FitPoint], alpha: float, beta: float) -> float:
    return max(abs(relative_residual(p.k_alpha * alpha + p.k_beta * beta, p.time)) for p in points)


def _segment(points: Sequence[FitPoint]) -> tuple[Segment, float]:
    alpha, beta = _solve(points)
    sizes = [p.nbytes for p in points]
    return Segment(min(sizes), max(sizes), alpha, beta), _worst(points, alpha, beta)


def fit_segments(points: Sequence[FitPoint], *, tolerance: float = 0.15, max_segments: int = 3,
                 min_sizes: int = 4) -> list[Segment]:  # fmt: skip
    """α and β per size range, fitted to ``points`` (times > 0); the same points give the same segments.

    Starts from one line over every size. While some segment misses a point by more
    than ``tolerance`` (relative), its sizes are split at the boundary that lowers the
    loss (see HUBER) most — kept only if it lowers it by more than noise would (SPLIT_GAIN),
    and by 30 % (SPLIT_SHARE). Each segment spans at least ``min_sizes`` sizes.
    """
    if not points:
        raise ValueError("no points to fit")
    if any(not (p.time > 0 and math.isfinite(p.time)) for p in points):
        raise ValueError("measured times must be positive and finite")
    ordered = sorted(points, key=lambda p: (p.nbytes, p.k_alpha, p.k_beta, p.time))
    pieces: list[tuple[list[FitPoint], Segment, float]] = [(ordered, *_segment(ordered))]
    tried: set[int] = set()  # pieces (by first size) that no split improves
    while len(pieces) < max_segments:
        open_pieces = [i for i in range(len(pieces)) if pieces[i][2] > tolerance and pieces[i][1].min_bytes not in tried]
        if not open_pieces:
            break
        index = max(open_pieces, key=lambda i: (pieces[i][2], -i))
        group, segment, _ = pieces[index]
        split = _best_split(group, min_sizes)
        before = _loss(group, segment.alpha, segment.beta)
        if split is None or before - split[0] < max(SPLIT_GAIN * _noise(split[1], split[2]), SPLIT_SHARE * before):
            tried.add(segment.min_bytes)
            continue
        _, left, right = split
        pieces[index : index + 1] = [(left, *_segment(left)), (right, *_segment(right))]
    return [segment for _, segment, _ in pieces]


SPLIT_GAIN = 3.0  # a split must lower the loss by 3 σ² (noise alone lowers it by about σ² for its 2 parameters)
SPLIT_SHARE = 0.3  # ... and by 30 %: a lone spoiled point is not a change of regime
NOISE_FLOOR = 0.02  # σ is never taken below 2 %: exact points elsewhere must not make any split look significant


def _noise(left: Sequence[FitPoint], right: Sequence[FitPoint]) -> float:
    """σ² of the relative residuals once split (the single line's own would count its misfit as noise),
    estimated robustly: 1.4826 × their median absolute value."""
    residuals = []
    for part in (left, right):
        alpha, beta = _solve(part)
        residuals += [abs(relative_residual(p.k_alpha * alpha + p.k_beta * beta, p.time)) for p in part]
    residuals.sort()
    middle = len(residuals) // 2
    median = residuals[middle] if len(residuals) % 2 else (residuals[middle - 1] + residuals[middle]) / 2
    return max(1.4826 * median, NOISE_FLOOR) ** 2


def _best_split(group: list[FitPoint], min_sizes: int):
    """(loss of the two halves, left, right) for the best boundary, or None."""
    sizes = sorted({p.nbytes for p in group})
    best = None
    for cut in range(min_sizes, len(sizes) - min_sizes + 1):
        boundary = sizes[cut - 1]
        left = [p for p in group if p.nbytes <= boundary]
        right = [p for p in group if p.nbytes > boundary]
        score = _loss(left, *_solve(left)) + _loss(right, *_solve(right))
        if best is None or score < best[0]:
            best = (score, left, right)
    return best


def segment_for(segments: Sequence[Segment], nbytes: int) -> Segment:
    """The segment that prices ``nbytes``: the one whose range holds it; between two ranges the
    nearer one (on a log scale); outside them all, the first or the last."""
    for i, seg in enumerate(segments):
        if nbytes <= seg.max_bytes:
            if i == 0 or nbytes >= seg.min_bytes:
                return seg
            previous = segments[i - 1]
            boundary = math.sqrt(previous.max_bytes * seg.min_bytes)
            return previous if nbytes <= boundary else seg
    return segments[-1]


def predict_segments(segments: Sequence[Segment], k_alpha: float, k_beta: float, nbytes: int) -> float:
    seg = segment_for(segments, nbytes)
    return k_alpha * seg.alpha + k_beta * seg.beta
