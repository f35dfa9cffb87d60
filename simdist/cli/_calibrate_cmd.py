"""``simdist calibrate``: measure this machine's collectives and write a profile the simulator can use."""

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from ._launch_options import COMMAND_PARAMETER, launch_options
from ._shared_options import Backend

SWEEP_PANEL = "The sweep"
DEFAULT_OUTPUT = Path("simdist-profile.json")


@app.command()
@launch_options(runs_here=True)
def calibrate(
    spec,
    backend: Annotated[
        Backend, typer.Option("--backend", help="auto: NCCL when there is a GPU for every local process, else gloo.",
                              rich_help_panel=SWEEP_PANEL)
    ] = Backend.auto,
    sizes: Annotated[
        Optional[str],
        typer.Option("--sizes", help="Message sizes: MIN..MAX (doubling), MIN..MAX:F (×F), or a list 4KiB,1MiB "
                     "\\[default: gloo 8B..32MiB, nccl 8B..256MiB].", rich_help_panel=SWEEP_PANEL, show_default=False),
    ] = None,
    ops: Annotated[
        str,
        typer.Option("--ops", help="Collectives to time: all, or a list of all_reduce, all_gather, reduce_scatter, "
                     "broadcast, all_to_all.", rich_help_panel=SWEEP_PANEL),
    ] = "all",
    iters: Annotated[
        Optional[int],
        typer.Option("--iters", help="Timed calls per size \\[default: gloo 21, nccl 50].", rich_help_panel=SWEEP_PANEL,
                     show_default=False),
    ] = None,
    warmup: Annotated[
        Optional[int],
        typer.Option("--warmup", help="Untimed calls per size first \\[default: gloo 2, nccl 5].",
                     rich_help_panel=SWEEP_PANEL, show_default=False),
    ] = None,
    local_nodes: Annotated[
        bool, typer.Option("--local-nodes", help="One torchrun agent per node on 127.0.0.1 (the 'between machines' "
                                                 "links are then loopback too).", rich_help_panel=SWEEP_PANEL)
    ] = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the simdist.profile/1 file.", metavar="FILE")
    ] = DEFAULT_OUTPUT,
    name: Annotated[
        Optional[str], typer.Option("--name", help="The profile's name \\[default: BACKEND-HOST-NRANKS].",
                                    show_default=False)
    ] = None,
    timeout: Annotated[
        Optional[float], typer.Option("--timeout", help="Stop everything after this many seconds "
                                                        "\\[default: from the estimate].", show_default=False)
    ] = None,
    plot: Annotated[
        Optional[Path], typer.Option("--plot", help="Also draw measured vs fitted times (.png or .svg).", metavar="FILE")
    ] = None,
    command: COMMAND_PARAMETER = None,
) -> int:
    """Time real collectives through torchrun, print nccl-tests-style tables, fit α and β, write a profile.

    [bold]simdist calibrate --nproc 2 -o gloo.json[/bold]  ·  [bold]simdist simulate --scenario allreduce --nproc 2 --profile gloo.json[/bold]
    """
    from rich.console import Console

    from ..collectives._profile import parse_ops, parse_sizes
    from ..documents._io import check_writable, write_atomic
    from ..real._calibrate import CalibrateOptions, plan_calibration, run_calibration
    from .._errors import ConfigError
    from ..launch._spec import resolve_rendezvous
    from ..real._run import require_torch

    check_writable(output)  # before minutes of measuring, not after
    if plot is not None:
        from ..plot import check_path

        check_path(plot)
    options = CalibrateOptions(
        backend=backend.value, sizes=parse_sizes(sizes) if sizes is not None else None, ops=parse_ops(ops),
        iters=iters, warmup=warmup, timeout=timeout, local_nodes=local_nodes, name=name,
    )  # fmt: skip
    plan = plan_calibration(spec, options)
    if spec.max_nodes > 1 and not local_nodes and spec.node_rank is None and resolve_rendezvous(spec).backend == "static":
        raise ConfigError("calibrate on a cluster: run the same command on every machine with its own --node-rank "
                          "(or use --local-nodes to run every node on this machine)")  # fmt: skip
    require_torch()
    err = Console(stderr=True, highlight=False)
    _say(plan.describe())
    _say(f"this takes about {_duration(plan.estimate)} (stopped after {_duration(plan.timeout)}); each time is "
         "a rank's median over rounds, averaged over ranks as nccl-tests does")  # fmt: skip
    started = time.perf_counter()
    with _ProgressView(plan, err) as view:
        profile = run_calibration(plan, on_progress=view.update)
    if profile is None:
        _say(f"node {spec.node_rank} ran its share of the sweep; the profile is written on the machine whose worker "
             f"got RANK 0 ({plan.spec.master_addr})")  # fmt: skip
        return 0
    write_atomic(output, profile.to_json())
    show_profile(profile, _say)
    _say(f"profile: {output} (measured in {time.perf_counter() - started:.1f} s)")
    if plot is not None:
        from ..plot import save
        from ..plot._calibration import calibration_figure

        save(calibration_figure([profile]), plot)
        _say(f"plot: {plot}")
    return 0


def _say(line: str = "") -> None:
    """A plain line on stdout: tables must not wrap or be styled."""
    sys.stdout.write(line.rstrip() + "\n")
    sys.stdout.flush()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


class _ProgressView:
    """A bar per op on a terminal; elsewhere (a log, a pipe) one line as each op finishes."""

    def __init__(self, plan, err) -> None:
        self.plan, self.err = plan, err
        self.live = err.is_terminal
        self.progress = None
        self.tasks: dict[tuple, tuple[int, int]] = {}  # op -> (bar, rounds)
        self.current: tuple | None = None
        self.last = None

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("rounds"), TimeElapsedColumn(), console=self.err, transient=False)  # fmt: skip
            self.progress.start()
        return self

    def update(self, progress) -> None:
        key = (progress.phase, progress.link, progress.op, progress.algorithm)
        if key != self.current:
            self._finished()
            self.current = key
        self.last = progress
        if self.progress is not None:
            if key not in self.tasks:
                where = "within a machine" if progress.link == "intra" else "between machines"
                bar = self.progress.add_task(f"{progress.op} ({progress.algorithm}, {where})", total=progress.rounds)
                self.tasks[key] = (bar, progress.rounds)
            self.progress.update(self.tasks[key][0], completed=progress.round)

    def _finished(self) -> None:
        if self.current is None:
            return
        if self.progress is not None:  # the last round may have gone by between two polls
            bar, rounds = self.tasks[self.current]
            self.progress.update(bar, completed=rounds)
            self.progress.stop_task(bar)
            return
        _, link, op, algorithm = self.current
        where = "within a machine" if link == "intra" else "between machines"
        _say(f"  ✓ {op} ({algorithm}, {where}): {self.last.rounds} rounds in {self.last.elapsed:.1f} s")

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self._finished()
        if self.progress is not None:
            self.progress.stop()


def show_profile(profile, say) -> None:
    """An nccl-tests-style table per measured collective, then its fit."""
    from ..collectives._profile import LINK_NAMES, format_size

    for fit in profile.collectives:
        rows = [p for p in profile.points if (p.link, p.op, p.algorithm) == (fit.link, fit.op, fit.algorithm)]
        say()
        say(f"# {fit.op} · {LINK_NAMES[fit.link]} · {fit.ranks} ranks · {profile.backend} "
                      f"({fit.backend_algorithm}; simdist times it as {fit.algorithm})")  # fmt: skip
        say(f"#{'size':>11} {'count':>11} {'type':>6} {'time':>10} {'algbw':>8} {'busbw':>8} "
                      f"{'model':>10} {'resid':>7}")  # fmt: skip
        say(f"#{'(B)':>11} {'(elements)':>11} {'':>6} {'(us)':>10} {'(GB/s)':>8} {'(GB/s)':>8} "
                      f"{'(us)':>10} {'':>7}")  # fmt: skip
        for p in rows:
            say(f" {p.bytes:>11} {p.count:>11} {p.type:>6} {p.time * 1e6:>10.1f} {p.algbw / 1e9:>8.3f} "
                          f"{p.busbw / 1e9:>8.3f} {p.predicted * 1e6:>10.1f} {p.residual * 100:>+6.1f}%",
                          )  # fmt: skip
        for seg in fit.segments:
            bandwidth = f"{1 / seg.beta / 1e9:.3g} GB/s" if seg.beta > 0 else "∞"
            say(f"# fit {format_size(seg.min_bytes)}–{format_size(seg.max_bytes)}: α {seg.alpha * 1e6:.1f} µs, "
                          f"β {seg.beta * 1e9:.3g} ns/B ({bandwidth})")  # fmt: skip
        say(f"# residuals: rms {fit.residual_rms * 100:.1f} %, max {fit.residual_max * 100:.1f} % "
                      f"({fit.points} sizes)")  # fmt: skip
    say()
    for fit in profile.links:
        seg_text = "; ".join(
            f"{format_size(s.min_bytes)}–{format_size(s.max_bytes)}: α {s.alpha * 1e6:.1f} µs, "
            f"{(1 / s.beta / 1e9) if s.beta > 0 else float('inf'):.3g} GB/s" for s in fit.segments
        )
        say(f"link {LINK_NAMES[fit.link]} ({fit.ranks} ranks, every op together): {seg_text}; residuals rms "
                      f"{fit.residual_rms * 100:.1f} %, max {fit.residual_max * 100:.1f} %")  # fmt: skip
