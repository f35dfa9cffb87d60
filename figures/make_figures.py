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
import sys
from collections.abc import Callable
from pathlib import Path

import simdist.plot
from simdist import LaunchSpec, make_plan
from simdist.cli import main as simdist_main

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # architecture.py sits next to this file
import architecture  # noqa: E402


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


def calibration() -> object:
    """The docs' example profile: gloo on this project's 2-CPU machine (tutorials/examples/profiles/)."""
    from simdist.collectives._profile import load_profile
    from simdist.plot._calibration import calibration_figure

    profile = load_profile(HERE.parent / "tutorials" / "examples" / "profiles" / "gloo-2cpu.json")
    return calibration_figure([profile])


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
    "architecture.svg": architecture.draw,
    "ring-allreduce-4.svg": lambda: simdist.plot.ring_steps(simulated(
        "--nnodes", "1", "--nproc", "4", "--master-port", "29500", "--start-times", "0", "--scenario", "allreduce",
        "--algorithm", "ring")),
    "calibration-gloo-2cpu.svg": calibration,
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
