"""Wall time of drawing (issue 6: diagrams).

Run by hand:  python benchmarks/bench_plot.py [--runs 7]

Prints medians of fresh processes, as a user would see them:
  * `simdist plot plan.json -o x.png` for a 2x2 plan — the work `explain --plot x.png` adds
    (goal: explain --nnodes 2 --nproc 2 --plot x.png <= 1.5 s)
  * the same to SVG, a 16x8 plan, and a simulated trace (rank map + timeline)
  * `python -c "import simdist.plot"` (matplotlib's import is most of the cost)
  * `simdist explain --nnodes 2 --nproc 2` for comparison (it must not pay for matplotlib)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIMDIST = [sys.executable, "-m", "simdist"]


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def median(argv: list[str], runs: int) -> float:
    wall(argv)  # warm the page cache, .pyc files and matplotlib's font cache
    return statistics.median(wall(argv) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small, big, trace = folder / "plan.json", folder / "big.json", folder / "trace.json"
        with small.open("w") as out:
            subprocess.run(SIMDIST + ["explain", "--nnodes", "2", "--nproc", "2", "-f", "json"], stdout=out, check=True)
        with big.open("w") as out:
            subprocess.run(SIMDIST + ["explain", "--nnodes", "16", "--nproc", "8", "--master-addr", "10.0.0.1", "-f",
                                      "json"], stdout=out, check=True)
        subprocess.run(SIMDIST + ["simulate", "--nnodes", "2", "--nproc", "2", "--master-port", "29500",
                                  "--trace", str(trace)], stdout=subprocess.DEVNULL, check=True)
        cases = [
            ("explain 2x2 (no plot)", SIMDIST + ["explain", "--nnodes", "2", "--nproc", "2"]),
            ("import simdist.plot", [sys.executable, "-c", "import simdist.plot"]),
            ("plot 2x2 plan -> png", SIMDIST + ["plot", str(small), "-o", str(folder / "x.png")]),
            ("plot 2x2 plan -> svg", SIMDIST + ["plot", str(small), "-o", str(folder / "x.svg")]),
            ("plot 16x8 plan -> png", SIMDIST + ["plot", str(big), "-o", str(folder / "big.png")]),
            ("plot 2x2 trace -> png", SIMDIST + ["plot", str(trace), "-o", str(folder / "trace.png")]),
        ]
        for name, argv in cases:
            print(f"{name:<24} median {median(argv, runs):.3f} s")
    print("goal: explain --nnodes 2 --nproc 2 --plot x.png <= 1.5 s (≈ explain + plot 2x2 png - start-up)")


if __name__ == "__main__":
    main()
