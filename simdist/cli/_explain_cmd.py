"""``simdist explain``: the layout torchrun will produce, before anything runs."""

import sys
from enum import Enum
from typing import Annotated

import typer

from .._explain import plan_json, render_env, render_tree
from .._plan import make_plan
from .._spec import LaunchSpec
from . import app
from ._launch_options import COMMAND_PARAMETER, launch_options


class ExplainFormat(str, Enum):
    table = "table"
    tree = "tree"
    env = "env"
    json = "json"


@app.command()
@launch_options
def explain(
    spec: LaunchSpec,
    format: Annotated[
        ExplainFormat, typer.Option("--format", "-f", help="table (default), tree, env (export lines) or json.")
    ] = ExplainFormat.table,
    command: COMMAND_PARAMETER = None,
) -> int:
    """Show the ranks, GPUs and environment torchrun will give every worker.

    [bold]simdist explain --nnodes 2 --nproc 2[/bold]  ·  [bold]simdist explain -- torchrun --nnodes=2 --nproc-per-node=4 --node-rank=1 train.py[/bold]
    """
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
    return 0
