"""Overhead of --real against a bare torchrun (issue: real mode).

Run by hand:  python benchmarks/bench_real.py [--runs 5]

A: simdist simulate --scenario allreduce --nnodes 1 --nproc 2 --real
B: python -m torch.distributed.run --standalone --nproc-per-node=2 trivial.py
   (trivial.py: init_process_group + one all_reduce, nothing else)
Goal: median A/B <= 1.3, runs interleaved A B A B … so machine drift cancels.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIVIAL = """
import torch, torch.distributed as dist
dist.init_process_group("gloo", init_method="env://")
t = torch.tensor([float(dist.get_rank())])
dist.all_reduce(t)
"""


def wall(argv: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "trivial.py"
        script.write_text(TRIVIAL)
        a = [sys.executable, "-m", "simdist", "simulate", "--scenario", "allreduce", "--nnodes", "1", "--nproc", "2",
             "--real", "--report", str(Path(folder) / "report.json")]  # fmt: skip
        b = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(script)]
        wall(a, folder), wall(b, folder)  # warm-up
        times_a, times_b = [], []
        for _ in range(runs):
            times_a.append(wall(a, folder))
            times_b.append(wall(b, folder))
    ratios = sorted(x / y for x, y in zip(times_a, times_b))
    print(f"simdist --real 1x2 (allreduce)   median {statistics.median(times_a):.2f} s")
    print(f"bare torchrun --standalone 1x2   median {statistics.median(times_b):.2f} s")
    print(f"ratio                            median {statistics.median(ratios):.2f} "
          f"(min {ratios[0]:.2f}, max {ratios[-1]:.2f}; goal <= 1.3)")


if __name__ == "__main__":
    main()
