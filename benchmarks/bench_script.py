"""Speed of `simdist script` and `simdist explain --from` (goal: <= 0.3 s wall, no torch import).

Run by hand:  python benchmarks/bench_script.py [--runs 9]

Prints, for each command, the median wall time and the median CPU time of the child
(user + system, from resource.getrusage). On a shared machine the wall time also counts
waiting for a core; the CPU time says what the command itself costs. `simdist explain`
runs in the same loop as a reference.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time

SIMDIST = [shutil.which("simdist")] if shutil.which("simdist") else [sys.executable, "-m", "simdist"]
HOSTS = "192.168.5.228,192.168.5.229"
COMMANDS = {
    "script (2 hosts)": ["script", "--nnodes", "2", "--nproc", "2", "--hosts", HOSTS, "--ifname",
                         "ens1f1np1,ens2f1np1", "train.py"],
    "script (64 hosts)": ["script", "--nnodes", "64", "--nproc", "8", "--hosts",
                          ",".join(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(64)), "train.py"],
    "script --slurm": ["script", "--slurm", "--nnodes", "4", "--nproc", "8", "train.py"],
    "script --slurm-native": ["script", "--slurm-native", "--nnodes", "4", "--nproc", "8", "train.py"],
    "explain --from slurm": ["explain", "--from", "slurm", "--", "-N", "2", "--ntasks-per-node", "4", "-m", "cyclic"],
    "explain (reference)": ["explain", "--nnodes", "2", "--nproc", "2"],
}  # fmt: skip


def measure(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(SIMDIST + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    for argv in COMMANDS.values():
        measure(argv)  # warm the page cache and .pyc files
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(runs):  # interleaved, so that load on a shared machine hits every command alike
        for name, argv in COMMANDS.items():
            results[name].append(measure(argv))
    for name, samples in results.items():
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        verdict = "" if name.startswith("explain (") else ("  ok" if wall <= 0.3 else "  OVER 0.3 s")
        print(f"{name:24s} wall median {wall:.3f} s (min {min(w for w, _ in samples):.3f})  cpu median {cpu:.3f} s{verdict}")


if __name__ == "__main__":
    main()
