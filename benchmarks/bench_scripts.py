"""Speed of running users' scripts (issue: your own train.py on the virtual cluster).

Run by hand:  python benchmarks/bench_scripts.py [--runs 3] [--skip-big]

1. A 2 × 2 DDP script (a small MLP, 20 optimizer steps) in the simulator, against the same
   script under real torchrun + gloo on this machine (two agents on 127.0.0.1), measured
   side by side, A B A B …; the goal is simulator ≤ 25 % of real torchrun's wall time.
2. What a rank costs: a scenario with one barrier at 1,024 ranks (each a thread) and at
   32,768 ranks (greenlets), against the same launch without a program, each in a fresh
   process; time and peak memory per rank.
3. 32,768 ranks: rendezvous + one scalar all_reduce (goal ≤ 15 s and ≤ 4 GiB).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DDP = '''
import torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
dist.init_process_group("gloo")
torch.manual_seed(0)
model = DistributedDataParallel(torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
generator = torch.Generator().manual_seed(dist.get_rank())
for _ in range(20):
    optimizer.zero_grad()
    model(torch.randn(16, 32, generator=generator)).pow(2).mean().backward()
    optimizer.step()
print("done", sum(p.sum().item() for p in model.parameters()))
dist.destroy_process_group()
'''

RANKS = """
import json, resource, sys, time
from simdist import LaunchSpec, SimOptions, simulate
nodes, program = int(sys.argv[1]), sys.argv[2]
def barrier(dist):
    dist.barrier()
def all_reduce(dist):
    import torch
    t = torch.tensor([1.0])
    dist.all_reduce(t)
spec = LaunchSpec(nnodes=nodes, nproc_per_node=8, master_addr="10.0.0.1", master_port=29500)
scenario = {"none": None, "barrier": barrier, "all_reduce": all_reduce}[program]
if scenario is not None:
    import torch  # imported before the clock starts, as the launch-only run never imports it
start = time.perf_counter()
trace = simulate(spec, seed=1, options=SimOptions(work=0.0), scenario=scenario)
elapsed = time.perf_counter() - start
assert trace.outcome == "ok", trace.diagnosis
print(json.dumps({"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ranks": nodes * 8}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def simulated(script: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simdist", "simulate", "--nnodes", "2", "--nproc", "2", "--start-times", "0,0",
                    str(script)], check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def real(script: Path) -> float:
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    agents = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=2",
                                f"--node-rank={n}", "--master-addr=127.0.0.1", f"--master-port={port}", str(script)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) for n in (0, 1)]  # fmt: skip
    codes = [a.wait(timeout=300) for a in agents]
    assert codes == [0, 0], codes
    return time.perf_counter() - start


def ranks(nodes: int, program: str) -> dict:
    done = subprocess.run([sys.executable, "-c", RANKS, str(nodes), program], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "ddp.py"
        script.write_text(DDP)
        simulated(script), real(script)  # warm-up: caches, compiled bytecode
        pairs = [(simulated(script), real(script)) for _ in range(args.runs)]
    sims, reals = [p[0] for p in pairs], [p[1] for p in pairs]
    ratio = statistics.median(s / r for s, r in pairs)
    print(f"2x2 DDP, 20 steps: simulated median {statistics.median(sims):.2f} s, real torchrun median "
          f"{statistics.median(reals):.2f} s, ratio {ratio:.2f} (goal <= 0.25)")
    for nodes in (128,) + (() if args.skip_big else (4096,)):
        base, run = ranks(nodes, "none"), ranks(nodes, "barrier")
        n = run["ranks"]
        how = "threads" if n <= 4096 else "greenlets"
        print(f"{n} ranks ({how}), one barrier: {run['seconds']:.2f} s, peak {run['peak_mib']:.0f} MiB; "
              f"per rank over the launch alone {(run['seconds'] - base['seconds']) / n * 1e6:.0f} µs, "
              f"{(run['peak_mib'] - base['peak_mib']) / n * 1024:.0f} KiB")
    if not args.skip_big:
        big = ranks(4096, "all_reduce")
        print(f"{big['ranks']} ranks: rendezvous + scalar all_reduce {big['seconds']:.2f} s, peak {big['peak_mib']:.0f} MiB "
              "(goal <= 15 s, <= 4096 MiB)")


if __name__ == "__main__":
    main()
