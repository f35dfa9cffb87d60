"""``simdist simulate``: the whole launch on a virtual clock, seeded and reproducible."""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._errors import ConfigError
from .._spec import LaunchSpec
from . import app
from ._launch_options import COMMAND_PARAMETER, launch_options

SIM_PANEL = "Simulation"


class SimulateFormat(str, Enum):
    timeline = "timeline"
    json = "json"


def _start_times(text: str | None) -> tuple[float, ...] | None:
    """Seconds per machine; ``never`` for a machine whose torchrun never starts."""
    if text is None:
        return None
    times = []
    for item in text.split(","):
        item = item.strip()
        if item == "never":
            times.append(float("inf"))
            continue
        try:
            value = float(item)
        except ValueError:
            raise ConfigError(f"--start-times expects comma-separated seconds or 'never', got {item!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"--start-times: {item!r} is not a time; use 'never' for a machine that never starts")
        times.append(value)
    return tuple(times)


def _ints(name: str, text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ConfigError(f"{name} expects comma-separated integers, got {text!r}") from None
    if any(v < 0 for v in values):
        raise ConfigError(f"{name} must not be negative")
    return values


@app.command()
@launch_options
def simulate(
    spec: LaunchSpec,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the one RNG (start jitter, ties).", rich_help_panel=SIM_PANEL)] = 0,
    start_times: Annotated[
        Optional[str],
        typer.Option("--start-times", help="When each machine's torchrun starts, seconds: T0,T1,… ('never' for one that never does).", rich_help_panel=SIM_PANEL),
    ] = None,
    fail: Annotated[
        Optional[list[str]],
        typer.Option("--fail", help="NODE@T: a machine dies at T; NODE:LOCAL_RANK@T: one worker. Repeatable.",
                     rich_help_panel=SIM_PANEL, metavar="NODE@T"),
    ] = None,
    node_ranks: Annotated[
        Optional[str],
        typer.Option("--node-ranks", help="The --node-rank each machine really passes (e.g. 0,1,1: a duplicate).",
                     rich_help_panel=SIM_PANEL),
    ] = None,
    work: Annotated[
        float, typer.Option("--work", help="Seconds each worker runs after init_process_group.", rich_help_panel=SIM_PANEL)
    ] = 1.0,
    format: Annotated[
        SimulateFormat, typer.Option("--format", "-f", help="timeline (default) or json (simdist.trace/1).")
    ] = SimulateFormat.timeline,
    trace: Annotated[
        Optional[Path], typer.Option("--trace", help="Also write the JSON trace to this file.", rich_help_panel=SIM_PANEL)
    ] = None,
    command: COMMAND_PARAMETER = None,
) -> int:
    """Simulate the launch — agents, rendezvous, ranks, workers, failures — on a virtual clock.

    [bold]simdist simulate --nnodes 2 --nproc 2 --seed 7[/bold]  ·  [bold]simdist simulate --nnodes 2 --start-times 0,1000[/bold]
    """
    from .._simulate import SimOptions, parse_failure, simulate as run_simulation
    from .._timeline import render_timeline

    if work < 0:
        raise ConfigError("--work must not be negative")
    options = SimOptions(work=work)
    result = run_simulation(
        spec,
        seed=seed,
        start_times=_start_times(start_times),
        failures=[parse_failure(f) for f in fail or ()],
        node_ranks=_ints("--node-ranks", node_ranks),
        options=options,
    )
    if trace is not None:
        from .._files import write_atomic

        write_atomic(trace, result.to_json())
    if format is SimulateFormat.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        sys.stdout.write(render_timeline(result) + "\n")
    return 0 if result.ok else 1
