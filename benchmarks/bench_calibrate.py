"""What calibration costs, and what a profile costs the simulator (issue: calibrate the cost model).

Run by hand:  python benchmarks/bench_calibrate.py [--runs 3] [--skip-sweep]

A: `simdist calibrate --nproc 2` with its defaults, wall time (goal: <= 60 s on a 2-core machine),
   against the estimate it prints up front.
B: fitting a profile from a default sweep's points (5 ops x 23 sizes), per fit.
C: simulating the `training` scenario on 2 nodes x 2 with the defaults vs with a profile
   (goal: a profile adds no measurable cost), runs interleaved A B A B so drift cancels.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "tutorials" / "examples" / "profiles" / "gloo-2cpu.json"


def sweep(runs: int) -> None:
    from simdist import LaunchSpec
    from simdist.real._calibrate import CalibrateOptions, plan_calibration

    estimate = plan_calibration(LaunchSpec(nproc_per_node=2), CalibrateOptions()).estimate
    walls = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "simdist", "calibrate", "--nproc", "2", "-o", "p.json"], cwd=folder,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            walls.append(time.perf_counter() - start)
    print(f"A  simdist calibrate --nproc 2 (defaults)   median {statistics.median(walls):.1f} s "
          f"(min {min(walls):.1f}, max {max(walls):.1f}; estimate printed up front {estimate:.0f} s; goal <= 60 s)")


def fitting(repeats: int = 20) -> None:
    from simdist.collectives._profile import RawPoint, build_fits, load_profile

    profile = load_profile(PROFILE)
    raw = [RawPoint(link=p.link, op=p.op, algorithm=p.algorithm, backend_algorithm="", ranks=p.ranks, bytes=p.bytes,
                    count=p.count, type=p.type, time=p.time, time_min=p.time_min, time_max=p.time_max, iters=p.iters)
           for p in profile.points]  # fmt: skip
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build_fits(raw)
        times.append(time.perf_counter() - start)
    print(f"B  fitting {len(raw)} points (5 ops + the link)     median {statistics.median(times) * 1e3:.1f} ms")


def simulating(runs: int) -> None:
    from simdist import LaunchSpec, ScenarioOptions, simulate

    spec = LaunchSpec(nnodes=2, nproc_per_node=2)
    options = {"defaults": ScenarioOptions(), "profile": ScenarioOptions(profile=str(PROFILE))}
    times: dict[str, list[float]] = {name: [] for name in options}
    for _ in range(runs):
        for name, option in options.items():
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                simulate(spec, seed=1, scenario="training", scenario_options=option)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"C  simulate training 2x2: defaults {medians['defaults'] * 1e3:.0f} ms, with a profile "
          f"{medians['profile'] * 1e3:.0f} ms (ratio {medians['profile'] / medians['defaults']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-sweep", action="store_true", help="only B and C (no torchrun)")
    args = parser.parse_args()
    if not args.skip_sweep:
        sweep(args.runs)
    fitting()
    simulating(max(5, args.runs))


if __name__ == "__main__":
    main()
