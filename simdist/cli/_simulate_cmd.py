"""``simdist simulate``: the whole launch on a virtual clock, seeded and reproducible."""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..collectives._algorithms import ALL_REDUCE_ALGORITHMS
from .._errors import ConfigError
from ..launch._spec import LaunchSpec
from . import app
from ._launch_options import launch_options
from ._shared_options import (
    DEFAULT_REPORT, DEFAULT_TIMEOUT, Backend, BackendOption, LocalNodesOption, PlotOption, RealOption, ReportOption,
    TimeoutOption, refuse_real_options_without_real, refuse_unused,
)  # fmt: skip

SIM_PANEL = "Simulation"
SCENARIO_PANEL = "Scenario and collectives"
SCRIPT_PANEL = "Your script"


Algorithm = Enum("Algorithm", {name: name for name in ("auto", *ALL_REDUCE_ALGORITHMS)}, type=str)


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


def _backend(choice: str, spec: LaunchSpec) -> str:
    """auto: NCCL when the machines were said to have a GPU for every worker."""
    if choice != "auto":
        return choice
    if spec.gpus_per_node is None:
        return "gloo"
    from ..launch._make import make_plan

    plan = make_plan(spec)
    return "nccl" if all(g is not None for n in plan.nodes for g in n.gpus) else "gloo"


SCRIPT_PARAMETER = Annotated[
    Optional[list[str]],
    typer.Argument(
        help="The training script and its arguments, run unmodified on every rank (train.py --lr 0.1); "
        "or, after `--`, a whole torchrun command.",
        show_default=False,
        metavar="[SCRIPT.py ARGS… | -- TORCHRUN COMMAND…]",
    ),
]


def _local_ranks(text: str | None) -> set[int] | None:
    """torchrun's ``--local-ranks-filter``: which local ranks' output to show."""
    if text is None:
        return None
    try:
        ranks = {int(r) for r in text.split(",")}
    except ValueError:
        raise ConfigError("--local-ranks-filter must be a comma-separated list of integers e.g. "
                          "--local-ranks-filter=0,1,2") from None  # fmt: skip
    return ranks


# Options stop at the script's name, as torchrun's do: what follows belongs to the script.
@app.command(context_settings={"allow_interspersed_args": False})
@launch_options(scripts=True)
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
    scenario: Annotated[
        Optional[str],
        typer.Option("--scenario", help="What every worker runs: a built-in name (allreduce, ring, broken_order, …) "
                     "or FILE.py:FUNCTION taking torch.distributed.", rich_help_panel=SCENARIO_PANEL),
    ] = None,
    backend: BackendOption = Backend.auto,
    algorithm: Annotated[
        Algorithm, typer.Option("--algorithm", help="all_reduce algorithm; auto: cheapest by the cost model.",
                                rich_help_panel=SCENARIO_PANEL)
    ] = Algorithm.auto,
    pg_timeout: Annotated[
        Optional[float], typer.Option("--pg-timeout", help="init_process_group timeout, s \\[default: gloo 1800, nccl 600].",
                                      rich_help_panel=SCENARIO_PANEL)
    ] = None,
    latency_intra: Annotated[float, typer.Option("--latency-intra", help="α inside a node, µs.", rich_help_panel=SCENARIO_PANEL)] = 2.0,
    bandwidth_intra: Annotated[float, typer.Option("--bandwidth-intra", help="Link bandwidth inside a node, GB/s.", rich_help_panel=SCENARIO_PANEL)] = 150.0,
    latency_inter: Annotated[float, typer.Option("--latency-inter", help="α between nodes, µs.", rich_help_panel=SCENARIO_PANEL)] = 10.0,
    bandwidth_inter: Annotated[float, typer.Option("--bandwidth-inter", help="Bandwidth between nodes, GB/s.", rich_help_panel=SCENARIO_PANEL)] = 25.0,
    steps: Annotated[bool, typer.Option("--steps/--no-steps", help="Record every algorithm step in the trace.", rich_help_panel=SCENARIO_PANEL)] = True,
    profile: Annotated[
        Optional[Path], typer.Option("--profile", help="Time collectives with a measured profile (simdist calibrate) "
                                     "instead of the --latency-*/--bandwidth-* defaults.", rich_help_panel=SCENARIO_PANEL,
                                     metavar="FILE")
    ] = None,
    module: Annotated[bool, typer.Option("--module", "-m", help="The script is a module (python -m), as torchrun's -m.",
                                         rich_help_panel=SCRIPT_PANEL)] = False,
    wall_timeout: Annotated[
        float, typer.Option("--wall-timeout", help="Real seconds a rank may compute without calling torch.distributed "
                            "or time before it is stopped and named.", rich_help_panel=SCRIPT_PANEL)
    ] = 60.0,
    op_cost: Annotated[
        float, typer.Option("--op-cost", help="Virtual seconds each torch operator takes on a rank, so the timeline "
                            "shows compute (default: only communication takes time).", rich_help_panel=SCRIPT_PANEL)
    ] = 0.0,
    local_ranks_filter: Annotated[
        Optional[str], typer.Option("--local-ranks-filter", help="Show only these local ranks' output (0,1), as torchrun.",
                                    rich_help_panel=SCRIPT_PANEL, metavar="R0,R1,…")
    ] = None,
    plot: PlotOption = None,
    real: RealOption = False,
    local_nodes: LocalNodesOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    report: ReportOption = DEFAULT_REPORT,
    command: SCRIPT_PARAMETER = None,
) -> int:
    """Simulate the launch — agents, rendezvous, ranks, workers, failures — on a virtual clock.

    [bold]simdist simulate --nnodes 2 --nproc 2 train.py --epochs 3[/bold]  ·  [bold]simdist simulate --nnodes 2 --start-times 0,1000[/bold]
    """
    from ..program._simulate import simulate as run_simulation
    from ..sim._simulation import SimOptions, parse_failure
    from ..sim._timeline import render_timeline

    refuse_real_options_without_real(real, local_nodes, timeout, report)
    runs_script = bool(command)  # a script after the options, or inside a pasted torchrun command
    if runs_script and scenario is not None:
        raise ConfigError("give a --scenario or a script to run, not both")
    if module and not runs_script:
        raise ConfigError("-m/--module needs a module name to run: simdist simulate -m package.module ARGS…")
    if not 0 < wall_timeout < float("inf"):
        raise ConfigError("--wall-timeout must be a positive number of seconds")
    local_ranks = _local_ranks(local_ranks_filter)
    links = (latency_intra, bandwidth_intra, latency_inter, bandwidth_inter)
    if profile is not None:
        refuse_unused("a measured --profile times the collectives", {
            "--latency-*/--bandwidth-*": links != (2.0, 150.0, 10.0, 25.0)})  # fmt: skip
        if scenario is None and not runs_script and not real:
            raise ConfigError("--profile: only used with --scenario or a script (it times their collectives)")
    if real:
        from ._real_view import run as run_real

        refuse_unused("they shape a simulation, and --real runs real torchrun instead", {
            "--seed": seed != 0, "--start-times": start_times is not None, "--fail": bool(fail),
            "--node-ranks": node_ranks is not None, "--work": work != 1.0, "--format json": format.value != "timeline",
            "--trace": trace is not None, "--algorithm": algorithm.value != "auto", "--no-steps": not steps,
            "--latency-*/--bandwidth-*": (latency_intra, bandwidth_intra, latency_inter, bandwidth_inter)
            != (2.0, 150.0, 10.0, 25.0),
        })  # fmt: skip
        if spec.no_python:
            raise ConfigError("--no-python: simdist compares Python scripts only")
        return run_real(spec, scenario=scenario or "env", backend=backend.value, timeout=timeout, local_nodes=local_nodes,
                        pg_timeout=pg_timeout, report_path=report, plot=plot,
                        script=tuple(spec.script) if runs_script else None, module=module or spec.module,
                        profile=profile)  # fmt: skip
    if plot is not None:
        from ..plot import check_path  # matplotlib loads only when a picture is asked for

        check_path(plot)
    if not 0 <= work < float("inf"):
        raise ConfigError("--work must be a finite number of seconds, not negative")
    if not all(0 <= v < float("inf") for v in links) or 0 in (bandwidth_intra, bandwidth_inter):
        raise ConfigError("--bandwidth-* must be positive and --latency-* not negative (finite numbers)")
    options = SimOptions(work=work)
    scenario_options = None
    if scenario is not None or runs_script:
        from ..collectives._algorithms import CostModel
        from ..program._scenario import ScenarioOptions

        scenario_options = ScenarioOptions(
            backend=_backend(backend.value, spec), algorithm=algorithm.value, timeout=pg_timeout, trace_steps=steps,
            cost=CostModel(alpha_intra=latency_intra * 1e-6, beta_intra=1 / (bandwidth_intra * 1e9),
                           alpha_inter=latency_inter * 1e-6, beta_inter=1 / (bandwidth_inter * 1e9))
            if profile is None else CostModel(),
            profile=None if profile is None else str(profile),
        )  # fmt: skip
    result = run_simulation(
        spec,
        seed=seed,
        start_times=_start_times(start_times),
        failures=[parse_failure(f) for f in fail or ()],
        node_ranks=_ints("--node-ranks", node_ranks),
        options=options,
        scenario=scenario,
        script=spec.script if runs_script else None,
        module=module or spec.module,
        no_python=spec.no_python,
        scenario_options=scenario_options,
        wall_timeout=wall_timeout,
        op_cost=op_cost,
    )
    if trace is not None:
        from ..documents._io import write_atomic

        write_atomic(trace, result.to_json())
    if format is SimulateFormat.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        sys.stdout.write(render_timeline(result, local_ranks) + "\n")
    if plot is not None:
        from ..plot import draw, save

        save(draw(result.to_dict()), plot)
    return 0 if result.ok else 1
