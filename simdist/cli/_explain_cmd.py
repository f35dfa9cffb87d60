"""``simdist explain``: the layout torchrun will produce, before anything runs."""

import sys
from enum import Enum
from typing import Annotated

import typer

from ..launch._explain import plan_json, render_env, render_tree
from ..launch._make import make_plan
from ..launch._spec import LaunchSpec
from . import app
from ._launch_options import COMMAND_PARAMETER, launch_options
from ._launcher_view import FromOption, from_launcher
from ._shared_options import (
    DEFAULT_REPORT, DEFAULT_TIMEOUT, Backend, BackendOption, LocalNodesOption, PlotOption, RealOption, ReportOption,
    TimeoutOption, refuse_real_options_without_real, refuse_unused,
)  # fmt: skip


class ExplainFormat(str, Enum):
    table = "table"
    tree = "tree"
    env = "env"
    json = "json"


@app.command()
@from_launcher
@launch_options
def explain(
    spec: LaunchSpec,
    format: Annotated[
        ExplainFormat, typer.Option("--format", "-f", help="table (default), tree, env (export lines) or json.")
    ] = ExplainFormat.table,
    plot: PlotOption = None,
    real: RealOption = False,
    local_nodes: LocalNodesOption = False,
    backend: BackendOption = Backend.auto,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    report: ReportOption = DEFAULT_REPORT,
    from_: FromOption = None,
    command: COMMAND_PARAMETER = None,
) -> int:
    """Show the ranks, GPUs and environment torchrun will give every worker.

    [bold]simdist explain --nnodes 2 --nproc 2[/bold]  ·  [bold]simdist explain -- torchrun --nnodes=2 --nproc-per-node=4 --node-rank=1 train.py[/bold]
    """
    refuse_real_options_without_real(real, local_nodes, timeout, report)
    refuse_unused("only used with --real", {"--backend": backend is not Backend.auto and not real})
    if real:
        from ._real_view import run as run_real

        return run_real(spec, scenario="env", backend=backend.value, timeout=timeout, local_nodes=local_nodes,
                        pg_timeout=None, report_path=report, plot=plot)  # fmt: skip
    if plot is not None:
        from ..plot import check_path  # matplotlib loads only when a picture is asked for

        check_path(plot)
    plan = make_plan(spec)
    if format is ExplainFormat.table:
        from rich.console import Console

        from ._table import render_table

        render_table(plan, Console(highlight=False), highlight=spec.node_rank)
    elif format is ExplainFormat.tree:
        sys.stdout.write(render_tree(plan, highlight=spec.node_rank) + "\n")
    elif format is ExplainFormat.env:
        sys.stdout.write(render_env(plan, node_rank=spec.node_rank) + "\n")
    else:
        sys.stdout.write(plan_json(plan) + "\n")
    if plot is not None:
        from ..plot import rank_map, save

        save(rank_map(plan.to_dict()), plot)
    return 0
