"""Measured cost profiles: the ``simdist.profile/1`` document and the cost model it gives.

``simdist calibrate`` times real collectives over a range of sizes and fits, per link
class (``intra``: ranks on one machine; ``inter``: ranks on different machines) and
per collective and algorithm, the α (seconds per step) and β (seconds per byte) of
simdist's model (see :mod:`._fit`). The profile keeps everything: which backend and
versions, which host, the settings, the fits with their residuals, and every raw point.

``Profile.cost_model()`` turns a profile into a :class:`ProfileCostModel`, a
:class:`CostModel` that prices each collective with the α and β measured for it, so
``ScenarioOptions(cost=profile.cost_model())`` (or ``profile=…``) simulates with the
machine's own numbers. Reading a profile checks every field; any problem with a file
is a one-line :class:`ConfigError`. Pure Python, stdlib only.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ..documents._cost import CostModelSummary
from ._algorithms import CostModel, bus_factor
from ._fit import FitPoint, Segment, coefficients, fit_segments, relative_residual, segment_for

__all__ = [
    "CALIBRATED_OPS",
    "LINKS",
    "PROFILE_SCHEMA",
    "CollectiveFit",
    "Measurement",
    "Profile",
    "ProfileCostModel",
    "build_fits",
    "format_size",
    "load_profile",
    "parse_ops",
    "parse_sizes",
    "profile_op",
]

PROFILE_SCHEMA = "simdist.profile/1"
LINKS = ("intra", "inter")
LINK_NAMES = {"intra": "within a machine", "inter": "between machines"}
CALIBRATED_OPS = ("all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all")
# The schedule simdist times each calibrated op with (gloo does not say which it runs).
MODEL_ALGORITHM = {"all_reduce": "ring", "all_gather": "ring", "reduce_scatter": "ring", "broadcast": "tree",
                   "all_to_all": "direct"}  # fmt: skip
# Variants of a collective priced like the collective itself (what the engine records as `op`).
_OP_ALIASES = {
    "all_reduce_coalesced": "all_reduce", "all_gather_into_tensor": "all_gather", "all_gather_single": "all_gather",
    "reduce_scatter_tensor": "reduce_scatter", "reduce_scatter_single": "reduce_scatter",
    "all_to_all_single": "all_to_all",
}  # fmt: skip
ALL = "*"  # the op of a link class' pooled fit

MAX_FILE_BYTES = 32 * 2**20  # a profile of a long sweep is well under 1 MiB
MAX_SIZE = 4 * 2**30
MAX_SIZES = 64
MAX_POINTS = 100_000
MAX_TEXT = 4096
_UNITS = {"": 1, "b": 1, "k": 2**10, "kib": 2**10, "kb": 10**3, "m": 2**20, "mib": 2**20, "mb": 10**6,
          "g": 2**30, "gib": 2**30, "gb": 10**9}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")


def profile_op(op: str) -> str:
    """The calibrated collective whose costs price ``op`` (``all_gather_into_tensor`` → ``all_gather``)."""
    return _OP_ALIASES.get(op, op)


# -- sizes and ops as the command line gives them ------------------------------------------------


def parse_size(text: str, what: str = "--sizes") -> int:
    """``64KiB`` → 65536. Units: B; KiB, MiB, GiB (or K, M, G, as nccl-tests); KB, MB, GB (powers of ten)."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ConfigError(f"{what}: {text.strip()!r} is not a size; write e.g. 8B, 64KiB, 1MiB or 4GiB")
    if len(match.group(1)) > 12:
        raise ConfigError(f"{what}: {text.strip()!r} is too large (at most {format_size(MAX_SIZE)})")
    value = int(match.group(1)) * _UNITS[unit]
    if value < 1:
        raise ConfigError(f"{what}: sizes must be at least 1 byte, got {text.strip()!r}")
    if value > MAX_SIZE:
        raise ConfigError(f"{what}: {text.strip()!r} is too large (at most {format_size(MAX_SIZE)} per collective)")
    return value


def parse_sizes(text: str, what: str = "--sizes") -> tuple[int, ...]:
    """``8B..32MiB`` (doubling, as nccl-tests ``-f 2``), ``1KiB..1MiB:4`` (×4), or ``4KiB,1MiB``; mixable."""
    sizes: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ConfigError(f"{what}: empty item in {text!r}")
        if ".." not in item:
            sizes.add(parse_size(item, what))
            continue
        low_text, _, rest = item.partition("..")
        high_text, _, factor_text = rest.partition(":")
        low, high = parse_size(low_text, what), parse_size(high_text, what)
        try:
            factor = int(factor_text) if factor_text.strip() else 2
        except ValueError:
            raise ConfigError(f"{what}: the step after ':' must be a whole factor ≥ 2, got {factor_text!r}") from None
        if factor < 2:
            raise ConfigError(f"{what}: the step after ':' must be a whole factor ≥ 2, got {factor_text!r}")
        if low > high:
            raise ConfigError(f"{what}: {item!r} runs backwards (the smaller size comes first)")
        size = low
        while size <= high:
            sizes.add(size)
            if len(sizes) > MAX_SIZES:
                break
            size *= factor
    if len(sizes) > MAX_SIZES:
        raise ConfigError(f"{what}: {text!r} gives more than {MAX_SIZES} sizes; use a larger step (e.g. ':4')")
    return tuple(sorted(sizes))


def parse_ops(text: str) -> tuple[str, ...]:
    """``all_reduce,broadcast`` or ``all``; in the order given, without repeats."""
    ops: list[str] = []
    for item in text.split(","):
        name = item.strip().replace("-", "_")
        if name == "all":
            ops.extend(op for op in CALIBRATED_OPS if op not in ops)
            continue
        name = profile_op(name)
        if name not in CALIBRATED_OPS:
            raise ConfigError(f"--ops: unknown collective {item.strip()!r}; choose from {', '.join(CALIBRATED_OPS)} "
                              "or all")  # fmt: skip
        if name not in ops:
            ops.append(name)
    if not ops:
        raise ConfigError("--ops: name at least one collective")
    return tuple(ops)


def format_size(nbytes: int) -> str:
    """64 KiB, 1 MiB, 8 B: exact where the size is a round binary multiple."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            value = nbytes / size
            return f"{value:g} {unit}" if value == int(value) or value >= 100 else f"{value:.1f} {unit}"
    return f"{nbytes} B"


# -- the document --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CollectiveFit:
    """α and β (per size range) for ``op`` with ``algorithm`` over ``ranks`` ranks on one link class.

    ``op`` is ``"*"`` for a link class' pooled fit (every op's points together): it prices
    collectives the profile did not measure. ``backend_algorithm`` says what really ran.
    """

    link: str
    op: str
    algorithm: str
    backend_algorithm: str
    ranks: int
    segments: tuple[Segment, ...]
    residual_rms: float
    residual_max: float
    points: int

    def to_dict(self) -> dict[str, Any]:
        return {"link": self.link, "op": self.op, "algorithm": self.algorithm,
                "backend_algorithm": self.backend_algorithm, "ranks": self.ranks,
                "segments": [s.to_dict() for s in self.segments], "residual_rms": self.residual_rms,
                "residual_max": self.residual_max, "points": self.points}  # fmt: skip

    def predict(self, op: str, algorithm: str, ranks: int, nbytes: int) -> float:
        k_alpha, k_beta = coefficients(op, algorithm, ranks, nbytes)
        seg = segment_for(self.segments, nbytes)
        return k_alpha * seg.alpha + k_beta * seg.beta


@dataclass(frozen=True, slots=True)
class Measurement:
    """One row of a calibration table: ``time`` is the median over iterations, averaged over ranks."""

    link: str
    op: str
    algorithm: str
    ranks: int
    bytes: int
    count: int
    type: str
    time: float
    time_min: float
    time_max: float
    iters: int
    predicted: float
    residual: float

    @property
    def algbw(self) -> float:
        return self.bytes / self.time

    @property
    def busbw(self) -> float:
        return self.algbw * bus_factor(self.op, self.ranks)

    def to_dict(self) -> dict[str, Any]:
        return {"link": self.link, "op": self.op, "algorithm": self.algorithm, "ranks": self.ranks,
                "bytes": self.bytes, "count": self.count, "type": self.type, "time": self.time,
                "time_min": self.time_min, "time_max": self.time_max, "iters": self.iters, "algbw": self.algbw,
                "busbw": self.busbw, "predicted": self.predicted, "residual": self.residual}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Profile:
    """A measured ``simdist.profile/1``: where and how it was measured, the fits, the raw points."""

    name: str
    backend: str
    links: tuple[CollectiveFit, ...]
    collectives: tuple[CollectiveFit, ...]
    points: tuple[Measurement, ...] = ()
    torch_version: str | None = None
    nccl_version: str | None = None
    host: Mapping[str, Any] = field(default_factory=dict)
    launch: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    created: str | None = None
    wall_time: float | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": PROFILE_SCHEMA,
            "name": self.name,
            "backend": self.backend,
            "torch_version": self.torch_version,
            "nccl_version": self.nccl_version,
            "host": dict(self.host),
            "launch": dict(self.launch),
            "settings": dict(self.settings),
            "created": self.created,
            "wall_time": self.wall_time,
            "source": self.source,
            "links": {f.link: f.to_dict() for f in self.links},
            "collectives": [f.to_dict() for f in self.collectives],
            "points": [p.to_dict() for p in self.points],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: object, where: str = "profile") -> Profile:
        return _read_profile(data, where)

    @property
    def measured_links(self) -> tuple[str, ...]:
        return tuple(link for link in LINKS if any(f.link == link for f in self.links))

    def fit_for(self, link: str, op: str, algorithm: str | None = None) -> CollectiveFit | None:
        """The fit that prices ``op`` on ``link``: the op's own (with ``algorithm`` if given), else the link's pooled one.

        A link class the profile did not measure borrows the other one's fits.
        """
        op = profile_op(op)
        order = [link] + [other for other in LINKS if other != link]
        for candidate in order:
            own = [f for f in self.collectives if f.link == candidate and f.op == op
                   and (algorithm is None or f.algorithm == algorithm)]  # fmt: skip
            if own:
                return own[0]
            pooled = [f for f in self.links if f.link == candidate]
            if pooled:
                return pooled[0]
        return None

    def predict(self, op: str, nbytes: int, ranks: int, *, link: str = "intra", algorithm: str | None = None) -> float:
        """Seconds for one ``op`` of ``nbytes`` over ``ranks`` ranks, all on ``link``, as the simulator times it."""
        op = profile_op(op)
        fit = self.fit_for(link, op, algorithm)
        if fit is None:
            raise ConfigError(f"profile {self.name!r} has no fits")
        chosen = algorithm or (fit.algorithm if fit.op == op else MODEL_ALGORITHM.get(op, "direct"))
        return fit.predict(op, chosen, ranks, nbytes)

    def describe(self) -> str:
        """One line: which profile, measured where, with what."""
        where = self.host.get("hostname") if isinstance(self.host, Mapping) else None
        bits = [self.backend] + ([f"on {where}"] if where else [])
        if self.torch_version:
            bits.append(f"torch {self.torch_version}")
        if self.created:
            bits.append(f"measured {self.created}")
        return f"profile {self.name} ({', '.join(bits)})"

    def cost_model(self, origin: str | None = None) -> ProfileCostModel:
        """A :class:`CostModel` pricing each collective with this profile's α and β (γ is in β)."""
        base = {link: self.fit_for(link, ALL) for link in LINKS}
        first = {link: fit.segments[0] for link, fit in base.items() if fit is not None}
        last = {link: fit.segments[-1] for link, fit in base.items() if fit is not None}
        if not first:
            raise ConfigError(f"profile {self.name!r} has no fits")
        measured = self.measured_links
        notes = tuple(
            (link, "measured" if link in measured else f"not measured: {LINK_NAMES[measured[0]]} values used")
            for link in LINKS
        )
        return ProfileCostModel(
            alpha_intra=first["intra"].alpha, beta_intra=last["intra"].beta, alpha_inter=first["inter"].alpha,
            beta_inter=last["inter"].beta, gamma=0.0, profile_name=self.name, label=self.describe(),
            origin=origin or "", backend=self.backend, fits=tuple(self.collectives), pooled=tuple(self.links),
            notes=notes,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProfileCostModel(CostModel):
    """A :class:`CostModel` from a measured profile: each collective gets the α and β fitted for it
    (its own op and algorithm, else its link class' pooled fit), chosen by its size; γ is part of β."""

    profile_name: str = ""
    label: str = ""
    origin: str = ""
    backend: str = ""
    fits: tuple[CollectiveFit, ...] = ()
    pooled: tuple[CollectiveFit, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()

    def _fit(self, link: str, op: str, algorithm: str) -> CollectiveFit:
        order = [link] + [other for other in LINKS if other != link]
        for candidate in order:
            for fit in self.fits:
                if fit.link == candidate and fit.op == op and fit.algorithm == algorithm:
                    return fit
            for fit in self.pooled:
                if fit.link == candidate:
                    return fit
        raise ConfigError(f"profile {self.profile_name!r} has no fits")  # pragma: no cover - checked on load

    def for_collective(self, op: str, algorithm: str, nbytes: int) -> CostModel:
        op = profile_op(op)
        intra = segment_for(self._fit("intra", op, algorithm).segments, nbytes)
        inter = segment_for(self._fit("inter", op, algorithm).segments, nbytes)
        return CostModel(alpha_intra=intra.alpha, beta_intra=intra.beta, alpha_inter=inter.alpha,
                         beta_inter=inter.beta, gamma=0.0)  # fmt: skip

    def candidates(self, op: str) -> tuple[str, ...] | None:
        measured = sorted({fit.algorithm for fit in self.fits if fit.op == profile_op(op)})
        return tuple(measured) or None

    def describe(self) -> str:
        return self.label or f"profile {self.profile_name}"

    def summary(self) -> CostModelSummary:
        return CostModelSummary(source=self.describe(), measured=True, profile=self.profile_name,
                                file=self.origin or None, backend=self.backend, links=dict(self.notes))  # fmt: skip


# -- building a profile from measurements -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawPoint:
    """What the sweep measured for one (link, op, algorithm, size), before fitting."""

    link: str
    op: str
    algorithm: str
    backend_algorithm: str
    ranks: int
    bytes: int
    count: int
    type: str
    time: float
    time_min: float
    time_max: float
    iters: int


def _fit_of(link: str, op: str, algorithm: str, backend_algorithm: str, ranks: int,
            points: Sequence[tuple[RawPoint, FitPoint]]) -> CollectiveFit:  # fmt: skip
    segments = tuple(fit_segments([fp for _, fp in points]))
    residuals = [relative_residual(_price(segments, fp), fp.time) for _, fp in points]
    return CollectiveFit(
        link=link, op=op, algorithm=algorithm, backend_algorithm=backend_algorithm, ranks=ranks, segments=segments,
        residual_rms=math.sqrt(sum(r * r for r in residuals) / len(residuals)),
        residual_max=max(abs(r) for r in residuals), points=len(points),
    )  # fmt: skip


def _price(segments: Sequence[Segment], point: FitPoint) -> float:
    seg = segment_for(segments, point.nbytes)
    return point.k_alpha * seg.alpha + point.k_beta * seg.beta


def build_fits(raw: Sequence[RawPoint]) -> tuple[tuple[CollectiveFit, ...], tuple[CollectiveFit, ...],
                                                 tuple[Measurement, ...]]:  # fmt: skip
    """Fit every (link, op, algorithm) and every link class; price every point with its own fit."""
    if not raw:
        raise ConfigError("nothing was measured")
    paired = [(p, FitPoint(p.bytes, *coefficients(p.op, p.algorithm, p.ranks, p.bytes), p.time)) for p in raw]
    groups: dict[tuple[str, str, str], list[tuple[RawPoint, FitPoint]]] = {}
    for item in paired:
        p = item[0]
        groups.setdefault((p.link, p.op, p.algorithm), []).append(item)
    collectives = []
    def order(kv):
        (link, op, algorithm), _ = kv
        return LINKS.index(link), CALIBRATED_OPS.index(op) if op in CALIBRATED_OPS else len(CALIBRATED_OPS), op, algorithm

    for (link, op, algorithm), items in sorted(groups.items(), key=order):
        first = items[0][0]
        collectives.append(_fit_of(link, op, algorithm, first.backend_algorithm, first.ranks, items))
    links = []
    for link in LINKS:
        items = [item for item in paired if item[0].link == link]
        if items:
            ranks = max(p.ranks for p, _ in items)
            links.append(_fit_of(link, ALL, "per op", "every op measured", ranks, items))
    by_key = {(f.link, f.op, f.algorithm): f for f in collectives}
    points = []
    for p, fp in paired:
        predicted = _price(by_key[(p.link, p.op, p.algorithm)].segments, fp)
        points.append(Measurement(
            link=p.link, op=p.op, algorithm=p.algorithm, ranks=p.ranks, bytes=p.bytes, count=p.count, type=p.type,
            time=p.time, time_min=p.time_min, time_max=p.time_max, iters=p.iters, predicted=predicted,
            residual=relative_residual(predicted, p.time),
        ))  # fmt: skip
    return tuple(links), tuple(collectives), tuple(points)


# -- reading, with every field checked ----------------------------------------------------------------


def load_profile(path: str | os.PathLike) -> Profile:
    """Read and check a ``simdist.profile/1`` file; every problem is a one-line ConfigError naming it."""
    source = Path(path)
    try:
        size = source.stat().st_size
        if source.is_dir():
            raise IsADirectoryError
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"cannot read profile {source}: {size} bytes is too large for a profile "
                              f"(at most {MAX_FILE_BYTES // 2**20} MiB)")  # fmt: skip
        with source.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"cannot read profile {source}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"cannot read profile {source}: it is a folder") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read profile {source}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read profile {source}: {exc.strerror or exc}") from None
    return Profile.from_dict(parse_json(text, f"profile {source}"), str(source))


def parse_json(text: str, where: str) -> object:
    """JSON as the standard allows it: no NaN or Infinity, no absurd nesting or numbers."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ConfigError(f"{where} is not a profile: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with thousands of digits
        raise ConfigError(f"{where} is not valid JSON: {exc}") from None


class _Reader:
    """Typed access to an untrusted document, each failure a ConfigError naming the file and the key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, what: str) -> ConfigError:
        return ConfigError(f"{self.where}: malformed {PROFILE_SCHEMA} document: {what}")

    def obj(self, value: object, what: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(f"{what} is not an object")
        return value

    def items(self, value: object, what: str, limit: int) -> list:
        if not isinstance(value, list):
            raise self.fail(f"{what} is not a list")
        if len(value) > limit:
            raise self.fail(f"{what} has {len(value)} entries (at most {limit})")
        return value

    def text(self, data: dict, key: str, what: str, *, optional: bool = False) -> str | None:
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{what}{key!r} is not a string")
        if len(value) > MAX_TEXT or not value.isprintable():
            raise self.fail(f"{what}{key!r} is too long or holds control characters")
        return value

    def number(self, data: dict, key: str, what: str, *, positive: bool = False, optional: bool = False) -> float:
        value = data.get(key)
        if value is None and optional:
            return None  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"{what}{key!r} is not a finite number")
        if value < 0 or (positive and value == 0):
            raise self.fail(f"{what}{key!r} must be {'positive' if positive else 'at least 0'}, got {value!r}")
        return float(value)

    def integer(self, data: dict, key: str, what: str, low: int, high: int) -> int:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"{what}{key!r} must be a whole number from {low} to {high}")
        return value

    def choice(self, data: dict, key: str, what: str, choices: Sequence[str]) -> str:
        value = data.get(key)
        if value not in choices:
            raise self.fail(f"{what}{key!r} must be one of {', '.join(choices)}, got {str(value)[:40]!r}")
        return value  # type: ignore[return-value]

    def plain(self, value: object, what: str, depth: int = 0) -> Any:
        """A small free-form JSON value (host, launch, settings): bounded in depth and size."""
        if depth > 4:
            raise self.fail(f"{what} is nested too deeply")
        if isinstance(value, dict):
            if len(value) > 256:
                raise self.fail(f"{what} has too many keys")
            return {str(k)[:MAX_TEXT]: self.plain(v, what, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            if len(value) > 4096:
                raise self.fail(f"{what} is too long")
            return [self.plain(v, what, depth + 1) for v in value]
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise self.fail(f"{what} holds a string that is too long")
            return value
        if value is None or isinstance(value, (bool, int, float)):
            return value
        raise self.fail(f"{what} holds an unexpected value")  # pragma: no cover - json gives no other types


def _read_fit(r: _Reader, data: object, what: str, *, pooled: bool) -> CollectiveFit:
    d = r.obj(data, what)
    where = f"{what}: "
    link = r.choice(d, "link", where, LINKS)
    op = r.choice(d, "op", where, (ALL,) if pooled else CALIBRATED_OPS)
    algorithm = r.text(d, "algorithm", where)
    if not pooled and not (algorithm == "direct" or (op, algorithm) in _SCHEDULED):
        raise r.fail(f"{where}'algorithm' {algorithm[:40]!r} is not one simdist times {op} with")
    segments = []
    for i, s in enumerate(r.items(d.get("segments"), f"{where}'segments'", 16)):
        s = r.obj(s, f"{where}segment {i}")
        seg_where = f"{where}segment {i}: "
        low = r.integer(s, "min_bytes", seg_where, 1, MAX_SIZE)
        high = r.integer(s, "max_bytes", seg_where, low, MAX_SIZE)
        segments.append(Segment(low, high, r.number(s, "alpha", seg_where), r.number(s, "beta", seg_where)))
    if not segments:
        raise r.fail(f"{where}'segments' is empty")
    if any(b.min_bytes <= a.max_bytes for a, b in zip(segments, segments[1:])):
        raise r.fail(f"{where}segments overlap or are out of order")
    return CollectiveFit(
        link=link, op=op, algorithm=algorithm, backend_algorithm=r.text(d, "backend_algorithm", where),  # type: ignore[arg-type]
        ranks=r.integer(d, "ranks", where, 2, 10**7), segments=tuple(segments),
        residual_rms=r.number(d, "residual_rms", where), residual_max=r.number(d, "residual_max", where),
        points=r.integer(d, "points", where, 1, MAX_POINTS),
    )  # fmt: skip


def _read_point(r: _Reader, data: object, what: str) -> Measurement:
    d = r.obj(data, what)
    where = f"{what}: "
    return Measurement(
        link=r.choice(d, "link", where, LINKS), op=r.choice(d, "op", where, CALIBRATED_OPS),
        algorithm=r.text(d, "algorithm", where), ranks=r.integer(d, "ranks", where, 2, 10**7),  # type: ignore[arg-type]
        bytes=r.integer(d, "bytes", where, 1, MAX_SIZE), count=r.integer(d, "count", where, 1, MAX_SIZE),
        type=r.text(d, "type", where), time=r.number(d, "time", where, positive=True),  # type: ignore[arg-type]
        time_min=r.number(d, "time_min", where, positive=True), time_max=r.number(d, "time_max", where, positive=True),
        iters=r.integer(d, "iters", where, 1, 10**9), predicted=r.number(d, "predicted", where),
        residual=_signed(r, d, "residual", where),
    )  # fmt: skip


def _signed(r: _Reader, d: dict, key: str, where: str) -> float:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise r.fail(f"{where}{key!r} is not a finite number")
    return float(value)


def _read_profile(data: object, where: str) -> Profile:
    r = _Reader(where)
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != PROFILE_SCHEMA:
        found = f"schema {str(schema)[:60]!r}" if schema is not None else "no 'schema' key"
        raise ConfigError(f"{where} is not a simdist profile ({found}; expected {PROFILE_SCHEMA}; "
                          "make one with `simdist calibrate`)")  # fmt: skip
    assert isinstance(data, dict)
    links_data = r.obj(data.get("links"), "'links'")
    links = []
    for key in sorted(links_data, key=lambda k: (k not in LINKS, str(k))):
        fit = _read_fit(r, links_data[key], f"links[{str(key)[:20]!r}]", pooled=True)
        if fit.link != key:
            raise r.fail(f"links[{str(key)[:20]!r}] says link {fit.link!r}")
        links.append(fit)
    if not links:
        raise r.fail("'links' is empty: a profile needs at least one measured link class")
    collectives = tuple(_read_fit(r, c, f"collectives[{i}]", pooled=False)
                        for i, c in enumerate(r.items(data.get("collectives"), "'collectives'", 1000)))  # fmt: skip
    keys = [(c.link, c.op, c.algorithm) for c in collectives]
    if len(set(keys)) != len(keys):
        raise r.fail("'collectives' lists the same link, op and algorithm twice")
    points = tuple(_read_point(r, p, f"points[{i}]")
                   for i, p in enumerate(r.items(data.get("points", []), "'points'", MAX_POINTS)))  # fmt: skip
    wall = data.get("wall_time")
    return Profile(
        name=r.text(data, "name", ""),  # type: ignore[arg-type]
        backend=r.choice(data, "backend", "", ("gloo", "nccl")),
        links=tuple(links),
        collectives=collectives,
        points=points,
        torch_version=r.text(data, "torch_version", "", optional=True),
        nccl_version=r.text(data, "nccl_version", "", optional=True),
        host=r.plain(r.obj(data.get("host", {}), "'host'"), "'host'"),
        launch=r.plain(r.obj(data.get("launch", {}), "'launch'"), "'launch'"),
        settings=r.plain(r.obj(data.get("settings", {}), "'settings'"), "'settings'"),
        created=r.text(data, "created", "", optional=True),
        wall_time=None if wall is None else r.number(data, "wall_time", ""),
        source=r.text(data, "source", "", optional=True),
    )


def _scheduled() -> frozenset[tuple[str, str]]:
    from ._algorithms import ALGORITHMS

    return frozenset(ALGORITHMS)


_SCHEDULED = _scheduled()
