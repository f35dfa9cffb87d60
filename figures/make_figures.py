"""Regenerate the figures the tutorials use.

Run from anywhere (simdist installed, e.g. ``pip install -e .``)::

    python figures/make_figures.py            # rewrites the SVGs next to this file
    python figures/make_figures.py --out DIR  # writes them to DIR instead

SVG output is byte-stable (no dates, a fixed hash salt, glyphs as paths): running
this twice gives identical files, so a figure that changes in a diff is a real
change. ``tests/test_plot_figures.py`` regenerates them and compares.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import simdist.plot
from simdist import LaunchSpec, make_plan
from simdist.cli import main as simdist_main

HERE = Path(__file__).resolve().parent


def plan(**launch) -> dict:
    """The ``simdist.plan/1`` document of a launch (what ``simdist explain -f json`` prints)."""
    return make_plan(LaunchSpec(**launch)).to_dict()


def simulated(*args: str) -> dict:
    """The ``simdist.trace/1`` document of ``simdist simulate ARGS -f json``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        simdist_main(["simulate", *args, "-f", "json"])
    return json.loads(out.getvalue())


def seed_tutorial() -> dict:
    """The seed tutorial's cluster: 2 machines × 2 GPUs, master 192.168.5.228:29400."""
    return plan(nnodes=2, nproc_per_node=2, master_addr="192.168.5.228", master_port=29400,
                hosts=["192.168.5.228", "192.168.5.229"])


def report_with_mismatch() -> dict:
    """A hand-made ``simdist.report/1``: the seed cluster, but rank 3 ended up on GPU 0.

    What a script that calls ``torch.cuda.set_device(0)`` instead of LOCAL_RANK gets.
    """
    predicted = seed_tutorial()
    workers = []
    for w in predicted["workers"]:
        index = 0 if w["rank"] == 3 else w["local_rank"]
        workers.append({
            "rank": w["rank"], "local_rank": w["local_rank"], "group_rank": w["group_rank"],
            "node_rank": w["node_rank"], "env": w["env"], "hostname": f"192.168.5.{228 + w['node_rank']}",
            "pid": 4100 + w["rank"], "result": None,
            "device": {"type": "cuda", "index": index, "name": "NVIDIA A100-SXM4-80GB", "cuda_visible_devices": None},
        })
    return {
        "schema": "simdist.report/1", "launch": predicted["launch"], "backend": "nccl", "torch_version": "2.13.0",
        "plan": predicted, "workers": workers,
        "comparison": {"matches": False, "differences": [{"rank": 3, "field": "gpu", "predicted": 1, "observed": 0}]},
    }


def ring_all_reduce_trace(n: int = 4, nbytes: int = 64 << 20, start: float = 3.0) -> dict:
    """A hand-made trace of one ring all-reduce over ``n`` ranks, as the simulator records it.

    Reduce-scatter step s: rank r sends chunk (r − s) mod n to r + 1; all-gather
    step s: chunk (r + 1 − s) mod n. 2(n − 1) steps, each moving nbytes / n per rank.
    """
    steps, chunk = 2 * (n - 1), nbytes // n
    step_time = 0.0004
    ranks = list(range(n))
    events = [{"t": start, "kind": "collective", "node": None, "rank": None, "detail": {
        "op": "all_reduce", "seq": 0, "group": "world", "ranks": ranks, "algorithm": "ring", "bytes": nbytes,
        "start": start, "end": start + steps * step_time, "algbw": 0.0, "busbw": 0.0}}]
    for s in range(steps):
        reduce = s < n - 1
        k = s if reduce else s - (n - 1)
        transfers = [{"src": r, "dst": (r + 1) % n, "chunk": (r - k) % n if reduce else (r + 1 - k) % n,
                      "bytes": chunk} for r in ranks]
        events.append({"t": start + s * step_time, "kind": "collective_step", "node": None, "rank": None, "detail": {
            "op": "all_reduce", "seq": 0, "group": "world", "algorithm": "ring", "step": s, "steps": steps,
            "phase": "reduce_scatter" if reduce else "all_gather", "transfers": transfers,
            "start": start + s * step_time, "end": start + (s + 1) * step_time}})
    return {"schema": "simdist.trace/1", "seed": 0, "launch": {}, "events": events, "plan": None, "results": [],
            "outcome": "ok", "diagnosis": "hand-made: one ring all_reduce"}


FIGURES: dict[str, Callable[[], object]] = {
    "rank-map-1x1.svg": lambda: simdist.plot.rank_map(plan()),
    "rank-map-2x2.svg": lambda: simdist.plot.rank_map(seed_tutorial()),
    "rank-map-hetero-1-3.svg": lambda: simdist.plot.rank_map(
        plan(nnodes=2, nproc_per_node=[1, 3], gpus_per_node=4, master_addr="10.0.0.1", master_port=29500)),
    "rank-map-16x8.svg": lambda: simdist.plot.rank_map(
        plan(nnodes=16, nproc_per_node=8, master_addr="10.0.0.1", master_port=29500)),
    "rank-map-cuda-visible-devices.svg": lambda: simdist.plot.rank_map(
        plan(nproc_per_node=2, gpus_per_node=4, visible_devices="2,3", master_port=29500)),
    "rank-map-report-mismatch.svg": lambda: simdist.plot.rank_map(report_with_mismatch()),
    "timeline-restart.svg": lambda: simdist.plot.timeline(simulated(
        "--nnodes", "2", "--nproc", "2", "--master-port", "29500", "--fail", "1:0@2.7", "--max-restarts", "1")),
    "ring-allreduce-4.svg": lambda: simdist.plot.ring_steps(ring_all_reduce_trace(4)),
}


def make_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [simdist.plot.save(draw(), out / name) for name, draw in FIGURES.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the tutorials' figures (byte-stable SVG).")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: figures/)")
    for path in make_all(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
