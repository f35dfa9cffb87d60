"""Speed of the simulated collectives (issue: simulated collectives).

Run by hand:  python benchmarks/bench_collectives.py [--runs 5]

1. all_reduce of 64 ranks x 2**20 float32 (ring), against the memory-bound limit
   measured in the same run: in-place accumulation of the 64 tensors plus one copy
   back per rank. Goals: <= 3x the limit without per-step tracing, <= 6x with it.
   Measured as the time the simulator spends executing the collective once every
   rank has called it (matching, data movement, step timing and tracing), inside a
   full simulated launch of 8 nodes x 8 processes.
2. 32,768 ranks (4,096 nodes x 8): rendezvous + one scalar all_reduce, whole
   simulation in a fresh process. Goals: <= 15 s and <= 4 GiB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

SIZE = 2**20
RANKS = 64


def memory_bound_limit(tensors: list[torch.Tensor]) -> float:
    start = time.perf_counter()
    total = tensors[0].clone()
    for t in tensors[1:]:
        total += t
    for t in tensors:
        t.copy_(total)
    return time.perf_counter() - start


def simulated(elements: int, steps: bool) -> float:
    """Seconds the engine spent executing the all_reduce in a full simulated launch."""
    from simdist import LaunchSpec
    from simdist.collectives._engine import CollectiveEngine
    from simdist.program._scenario import ScenarioOptions
    from simdist import SimOptions, simulate

    spent = []
    original = CollectiveEngine._execute

    def timed(self, ops):
        start = time.perf_counter()
        original(self, ops)
        spent.append(time.perf_counter() - start)

    def scenario(dist):
        t = torch.full((elements,), float(dist.get_rank()))
        dist.all_reduce(t)
        return None

    spec = LaunchSpec(nnodes=8, nproc_per_node=8, master_addr="10.0.0.1", master_port=29500)
    CollectiveEngine._execute = timed
    try:
        trace = simulate(spec, start_times=(0.0,) * 8, options=SimOptions(), scenario=scenario,
                         scenario_options=ScenarioOptions(algorithm="ring", trace_steps=steps))  # fmt: skip
    finally:
        CollectiveEngine._execute = original
    assert trace.outcome == "ok", trace.diagnosis
    assert len(trace.of_kind("collective_step")) == (2 * (RANKS - 1) if steps else 0)
    return sum(spent)


BIG = """
import json, resource, time
from simdist import LaunchSpec
from simdist.program._scenario import ScenarioOptions
from simdist import SimOptions, simulate
def scenario(dist):
    import torch
    t = torch.tensor([1.0])
    dist.all_reduce(t)
    return None
spec = LaunchSpec(nnodes=4096, nproc_per_node=8, master_addr="10.0.0.1", master_port=29500)
start = time.perf_counter()
trace = simulate(spec, seed=1, options=SimOptions(work=0.0), scenario=scenario,
                 scenario_options=ScenarioOptions(trace_steps=False))
elapsed = time.perf_counter() - start
assert trace.outcome == "ok", trace.diagnosis
print(json.dumps({"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ranks": len(trace.results)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    runs = args.runs
    torch.set_num_threads(1)  # the simulator runs single-threaded; compare like with like
    tensors = [torch.rand(SIZE) for _ in range(RANKS)]
    simulated(1, False)  # warm-up: imports, caches
    limits, plain, traced = [], [], []
    for _ in range(runs):
        limits.append(memory_bound_limit(tensors))
        plain.append(simulated(SIZE, False))
        traced.append(simulated(SIZE, True))
    limit = statistics.median(limits)
    print(f"memory-bound limit (64 x 2^20 float32)     median {limit * 1000:7.1f} ms")
    print(f"simulated ring all_reduce, no step trace    median {statistics.median(plain) * 1000:7.1f} ms "
          f"= {statistics.median(plain) / limit:.2f}x the limit (goal <= 3x)")
    print(f"simulated ring all_reduce, per-step trace   median {statistics.median(traced) * 1000:7.1f} ms "
          f"= {statistics.median(traced) / limit:.2f}x the limit (goal <= 6x)")
    if args.skip_big:
        return
    result = json.loads(subprocess.run([sys.executable, "-c", BIG], capture_output=True, text=True, check=True).stdout)
    print(f"{result['ranks']} ranks: rendezvous + scalar all_reduce  {result['seconds']:.2f} s, "
          f"peak {result['peak_mib']:.0f} MiB (goal <= 15 s, <= 4096 MiB)")


if __name__ == "__main__":
    main()
