"""Speed of the launch simulator (issue: deterministic simulator).

Run by hand:  python benchmarks/bench_simulate.py [--runs 5]

* the simulation core for 2 nodes x 2 processes, in-process (goal: <= 50 ms)
* rendezvous + rank assignment + worker spawn for 64 ... 4,096 nodes x 8
  processes (goal at 4,096 x 8 = 32,768 ranks: <= 5 s and <= 2 GiB), each size in
  its own process so that peak memory is per size; the ratio column shows how time
  grows with the node count (near-linear: ~4x per 4x nodes)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = """
import json, resource, sys, time
from simdist import LaunchSpec
from simdist import SimOptions, simulate
nodes = int(sys.argv[1])
spec = LaunchSpec(nnodes=nodes, nproc_per_node=8, master_addr="10.0.0.1", master_port=29500)
start = time.perf_counter()
trace = simulate(spec, seed=1, options=SimOptions(work=0.0))
elapsed = time.perf_counter() - start
assert trace.outcome == "ok", trace.diagnosis
spawned = sum(1 for e in trace.events if e.kind == "worker_spawn")
print(json.dumps({"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ranks": spawned}))
"""


def core_2x2(runs: int) -> list[float]:
    from simdist import LaunchSpec
    from simdist import simulate

    spec = LaunchSpec(nnodes=2, nproc_per_node=2, master_port=29500)
    simulate(spec)  # warm imports and caches
    times = []
    for seed in range(runs * 20):
        start = time.perf_counter()
        simulate(spec, seed=seed)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    times = core_2x2(runs)
    print(f"core 2x2 in-process       median {statistics.median(times) * 1000:.2f} ms (goal <= 50 ms)")
    previous = None
    for nodes in (64, 256, 1024, 4096):
        samples = [json.loads(subprocess.run([sys.executable, "-c", CHILD, str(nodes)], capture_output=True, text=True,
                                             check=True).stdout) for _ in range(runs)]  # fmt: skip
        seconds = statistics.median(s["seconds"] for s in samples)
        peak = max(s["peak_mib"] for s in samples)
        growth = f"x{seconds / previous:.1f} for 4x nodes" if previous else ""
        print(f"{nodes:5d} x 8 = {samples[0]['ranks']:6d} ranks  median {seconds:7.3f} s  peak {peak:7.1f} MiB  {growth}")
        previous = seconds
    print("goal at 4096 x 8: <= 5 s and <= 2048 MiB")


if __name__ == "__main__":
    main()
