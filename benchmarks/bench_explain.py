"""Start-up and planning speed of `simdist explain` (issue: foundation).

Run by hand:  python benchmarks/bench_explain.py [--runs 7]

Prints medians and the A/B ratio measured in the same run (interleaved), because
absolute times on shared machines drift:
  * `simdist explain --nnodes 2 --nproc 2` vs `python -m torch.distributed.run --help`
    (goal: ratio <= 0.08)
  * planning 100,000 nodes x 8 through the Python API (goal: <= 2 s)
  * `simdist explain --nnodes 1000 --nproc 8` as a table (goal: <= 0.5 s)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

# The console script, as users run it (measure a regular `pip install .`: an editable
# install adds ~10 ms of import-hook start-up to every command).
SIMDIST = [shutil.which("simdist")] if shutil.which("simdist") else [sys.executable, "-m", "simdist"]


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def interleaved(a: list[str], b: list[str], runs: int) -> tuple[list[float], list[float]]:
    wall(a), wall(b)  # warm the page cache and .pyc files
    times_a, times_b = [], []
    for _ in range(runs):
        times_a.append(wall(a))
        times_b.append(wall(b))
    return times_a, times_b


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    explain = SIMDIST + ["explain", "--nnodes", "2", "--nproc", "2"]
    torchrun_help = [sys.executable, "-m", "torch.distributed.run", "--help"]
    a, b = interleaved(explain, torchrun_help, runs)
    ratios = sorted(x / y for x, y in zip(a, b))
    print(f"explain 2x2          median {statistics.median(a):.3f} s")
    print(f"torchrun --help      median {statistics.median(b):.3f} s")
    print(f"ratio explain/help   median {statistics.median(ratios):.3f}  (min {ratios[0]:.3f}, max {ratios[-1]:.3f}; goal <= 0.08)")

    from simdist import LaunchSpec, make_plan

    spec = LaunchSpec(nnodes=100_000, nproc_per_node=8, master_addr="10.0.0.1")
    plan_times = []
    for _ in range(runs):
        start = time.perf_counter()
        plan = make_plan(spec)
        assert plan.workers[plan.world_size - 1].env["RANK"] == str(plan.world_size - 1)  # one lookup at the far end
        plan_times.append(time.perf_counter() - start)
    print(f"plan 100000x8 (API)  median {statistics.median(plan_times):.3f} s  (goal <= 2 s)")

    big = SIMDIST + ["explain", "--nnodes", "1000", "--nproc", "8", "--master-addr", "10.0.0.1"]
    wall(big)
    big_times = [wall(big) for _ in range(runs)]
    print(f"explain 1000x8 table median {statistics.median(big_times):.3f} s  (goal <= 0.5 s)")


if __name__ == "__main__":
    main()
