"""``simdist calibrate``: time real collectives through torchrun and fit the cost model to them.

:func:`plan_calibration` says up front what will run and about how long it takes;
:func:`run_calibration` runs the sweep (:mod:`._sweep`) through the same machinery
as ``--real`` (torchrun, the simdist worker, the store, the reaping of every
process), averages each point over ranks and fits a :class:`Profile`. The launching
process never imports torch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import ConfigError, RealRunFailed
from ..collectives._fit import coefficients
from ..collectives._profile import CALIBRATED_OPS, Profile, RawPoint, build_fits, format_size
from ..launch._make import make_plan
from ..launch._spec import LaunchSpec

if TYPE_CHECKING:
    from ..documents._report import Report

__all__ = ["CalibrateOptions", "CalibrationPlan", "plan_calibration", "run_calibration"]

SWEEP = f"{Path(__file__).with_name('_sweep.py')}:sweep"
# Defaults that finish in well under a minute on a 2-core machine (gloo), and cover
# NCCL's small-message and bandwidth regimes on GPUs (as nccl-tests -b 8 -e 256M -f 2).
DEFAULT_SIZES = {"gloo": "8B..32MiB", "nccl": "8B..256MiB"}
DEFAULT_ITERS = {"gloo": 21, "nccl": 50}
DEFAULT_WARMUP = {"gloo": 2, "nccl": 5}
# What a sweep roughly costs before anything is measured: start-up, and a typical link.
STARTUP_SECONDS = {"gloo": 7.0, "nccl": 20.0}
TYPICAL = {"gloo": (300e-6, 1 / 0.5e9), "nccl": (10e-6, 1 / 40e9)}  # α (s), β (s/B), on the slow side
GROUP_SECONDS = 0.15  # creating a group and its barrier, per op
STATISTIC = {
    "gloo": "per rank: the median over rounds of the fastest of 3 calls; averaged over ranks",
    "nccl": "per rank: the median over rounds of a 5-call average (as nccl-tests times); averaged over ranks",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrateOptions:
    """What to sweep, and how; None means the backend's default."""

    backend: str = "auto"  # auto | gloo | nccl
    sizes: tuple[int, ...] | None = None
    ops: tuple[str, ...] = CALIBRATED_OPS
    iters: int | None = None
    warmup: int | None = None
    timeout: float | None = None  # the whole run; None: from the estimate
    local_nodes: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "gloo", "nccl"):
            raise ConfigError(f"unknown backend {self.backend!r}: auto, gloo or nccl")
        if self.iters is not None and not 1 <= self.iters <= 10_000:
            raise ConfigError(f"--iters must be from 1 to 10000, got {self.iters}")
        if self.warmup is not None and not 0 <= self.warmup <= 10_000:
            raise ConfigError(f"--warmup must be from 0 to 10000, got {self.warmup}")
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigError(f"--timeout must be a positive number of seconds, got {self.timeout:g}")
        if not self.ops or any(op not in CALIBRATED_OPS for op in self.ops):
            raise ConfigError(f"ops must be among {', '.join(CALIBRATED_OPS)}")
        if self.sizes is not None and (not self.sizes or any(s < 1 for s in self.sizes)):
            raise ConfigError("sizes must be at least 1 byte")
        if self.name is not None and (not self.name or len(self.name) > 200 or not self.name.isprintable()):
            raise ConfigError("--name must be a short printable name")


@dataclass(frozen=True, slots=True)
class CalibrationPlan:
    """What :func:`run_calibration` will do, known before it starts."""

    spec: LaunchSpec
    backend: str
    sizes: tuple[int, ...]
    ops: tuple[str, ...]
    iters: int
    warmup: int
    phases: tuple[tuple[str, int], ...]  # (link class, ranks measured)
    estimate: float  # seconds, start-up included
    timeout: float
    local_nodes: bool
    name: str | None

    def describe(self) -> str:
        links = ", ".join(f"{'within a machine' if link == 'intra' else 'between machines'} ({n} ranks)"
                          for link, n in self.phases)  # fmt: skip
        return (f"calibrating {self.backend}: {', '.join(self.ops)} × {len(self.sizes)} sizes "
                f"({format_size(self.sizes[0])}–{format_size(self.sizes[-1])}) × {self.iters} iterations "
                f"(+{self.warmup} warm-up), {links}")  # fmt: skip


def _local_gpus() -> int:
    """NVIDIA GPUs the driver lists (no torch import); 0 without a driver."""
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


def _backend(choice: str, spec: LaunchSpec) -> str:
    if choice != "auto":
        return choice
    if spec.gpus_per_node is not None:
        plan = make_plan(spec)
        return "nccl" if all(g is not None for node in plan.nodes for g in node.gpus) else "gloo"
    return "nccl" if _local_gpus() >= max(spec.nprocs) else "gloo"


def _phases(spec: LaunchSpec) -> tuple[tuple[str, int], ...]:
    """The link classes the sweep measures (the worker decides the same from the real layout)."""
    nprocs = list(spec.nprocs)
    phases = []
    if any(n >= 2 for n in nprocs):
        phases.append(("intra", next(n for n in nprocs if n >= 2)))
    if len(nprocs) >= 2:
        phases.append(("inter", len(nprocs)))
    return tuple(phases)


def _sweep_seconds(backend: str, ops, sizes, iters: int, warmup: int, phases) -> float:
    alpha, beta = TYPICAL[backend]
    total = 0.0
    for _, n in phases:
        for op in ops:
            variants = 2 if backend == "nccl" and op == "all_reduce" else 1
            algorithm = {"all_reduce": "ring", "broadcast": "tree", "all_to_all": "direct"}.get(op, "ring")
            per_round = sum(k_a * alpha + k_b * beta for k_a, k_b in (coefficients(op, algorithm, n, s) for s in sizes))
            # a burst of 3 (gloo) or 5 (nccl) per round, plus an untimed call before each
            timed = iters * 6 / 5 if backend == "nccl" else iters * 4 / 3
            total += variants * (per_round * (timed + warmup) + GROUP_SECONDS)
    return total


def plan_calibration(spec: LaunchSpec, options: CalibrateOptions) -> CalibrationPlan:
    """Check the launch and the options; say what the sweep will do and about how long it takes."""
    if spec.min_nodes != spec.max_nodes:
        raise ConfigError("calibrate needs a fixed number of nodes, not an elastic range (--nnodes N)")
    world = make_plan(spec).world_size
    if world < 2:
        raise ConfigError("calibrate needs at least 2 processes to time a collective: --nproc 2, or --nnodes 2 "
                          "--local-nodes")  # fmt: skip
    backend = _backend(options.backend, spec)
    from ..collectives._profile import parse_sizes

    sizes = options.sizes or parse_sizes(DEFAULT_SIZES[backend])
    iters = options.iters or DEFAULT_ITERS[backend]
    warmup = DEFAULT_WARMUP[backend] if options.warmup is None else options.warmup
    phases = _phases(spec)
    estimate = STARTUP_SECONDS[backend] + _sweep_seconds(backend, options.ops, sizes, iters, warmup, phases)
    timeout = options.timeout if options.timeout is not None else max(120.0, 4 * estimate + 60)
    return CalibrationPlan(spec, backend, tuple(sizes), options.ops, iters, warmup, phases, estimate, timeout,
                           options.local_nodes, options.name)  # fmt: skip


@dataclass
class Progress:
    """Where the sweep is, from the file the measuring rank writes (None until it starts)."""

    phase: int
    phases: int
    link: str
    op: str
    algorithm: str
    round: int
    rounds: int
    elapsed: float  # seconds since this op's timed rounds began


def read_progress(folder: Path) -> Progress | None:
    try:
        data = json.loads((folder / "progress.json").read_text())
        return Progress(**{f.name: data[f.name] for f in dataclasses.fields(Progress)})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_calibration(plan: CalibrationPlan, on_progress: Callable[[Progress], None] | None = None) -> Profile | None:
    """Run the sweep through real torchrun and fit the profile. Raises RealRunFailed if it fails.

    On a cluster, only the machine whose worker has RANK 0 gathers every rank's points and
    fits the profile; the others run their share and get None.
    """
    from ._run import RealOptions, run_real

    config = {"ops": list(plan.ops), "sizes": list(plan.sizes), "iters": plan.iters, "warmup": plan.warmup}
    options = RealOptions(scenario=SWEEP, backend=plan.backend, timeout=plan.timeout, local_nodes=plan.local_nodes,
                          pg_timeout=plan.timeout * 0.9, predict_results=False)  # fmt: skip
    last: list[Progress | None] = [None]

    def poll(folder: Path) -> None:
        progress = read_progress(folder)
        if progress is not None and progress != last[0] and on_progress is not None:
            last[0] = progress
            on_progress(progress)

    started = time.perf_counter()
    report = run_real(plan.spec, options, extra_env={"SIMDIST_CALIBRATE": json.dumps(config),
                                                     "SIMDIST_TIME_COLLECTIVES": "0"}, on_poll=poll)  # fmt: skip
    wall = time.perf_counter() - started
    workers = report.workers
    share_only = len(report.nodes_run_here) < plan.spec.max_nodes and report.gathered_by is None
    if share_only and not report.failed:
        return None  # another machine's worker has RANK 0: the profile is written there
    if report.failed or not workers or any(not isinstance(w.result, dict) for w in workers):
        why = report.diagnosis or "no worker reported its measurements"
        tail = next((a.stderr_tail[-1] for a in report.agents if a.stderr_tail), "")
        raise RealRunFailed(f"calibration failed: {why}" + (f" (torchrun: {tail})" if tail and not report.diagnosis
                                                            else ""))  # fmt: skip
    return _profile(plan, report, wall)


def _profile(plan: CalibrationPlan, report: Report, wall: float) -> Profile:
    results = [w.result for w in report.workers]
    groups: dict[tuple, list[dict]] = {}
    for result in results:
        for point in result["points"]:
            key = (point["link"], point["op"], point["algorithm"], point["bytes"])
            groups.setdefault(key, []).append(point)
    raw = []
    for (link, op, algorithm, nbytes), points in groups.items():
        first = points[0]
        raw.append(RawPoint(
            link=link, op=op, algorithm=algorithm, backend_algorithm=first["backend_algorithm"], ranks=first["ranks"],
            bytes=nbytes, count=first["count"], type=first["type"],
            # nccl-tests averages each rank's time; each rank's is a median over rounds here (see _sweep)
            time=sum(p["median"] for p in points) / len(points), time_min=min(p["min"] for p in points),
            time_max=max(p["max"] for p in points), iters=first["iters"],
        ))  # fmt: skip
    if any(p.time <= 0 for p in raw):
        raise RealRunFailed("calibration measured a time of zero: the clock is too coarse for these sizes")
    links, collectives, points = build_fits(raw)
    first = results[0]
    workers = report.workers
    host = {
        "hostname": workers[0].hostname, "hostnames": sorted({str(w.hostname) for w in workers}),
        "platform": platform.platform(), "python": platform.python_version(), "machine": platform.machine(),
        "cpu": _cpu_name(), "cpu_count": os.cpu_count(), "device": first.get("device"),
        "launcher": socket.gethostname(),
    }  # fmt: skip
    plan_doc = report.plan
    world_size = plan_doc.world_size if plan_doc is not None else len(workers)
    launch = plan_doc.launch if plan_doc is not None else report.launch
    name = plan.name or f"{plan.backend}-{host['hostname']}-{world_size}ranks"
    return Profile(
        name=name,
        backend=plan.backend,
        links=links,
        collectives=collectives,
        points=points,
        torch_version=report.torch_version,
        nccl_version=first.get("nccl_version"),
        host=host,
        launch={"nnodes": launch["nnodes"], "nproc_per_node": launch["nproc_per_node"],
                "world_size": world_size, "local_nodes": plan.local_nodes,
                "layout": first.get("layout")},  # fmt: skip
        settings={"sizes": list(plan.sizes), "ops": list(plan.ops), "iters": plan.iters, "warmup": plan.warmup,
                  "type": "float", "statistic": STATISTIC[plan.backend],
                  "interleaved": True, "fit": "least squares of the relative error, α and β ≥ 0, split by size "
                  "where one line misses a point by more than 15 %"},  # fmt: skip
        created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        wall_time=round(wall, 3),
        source="measured with `simdist calibrate` (real torchrun)",
    )


def _cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
