"""``simdist plot``: draw a plan, a trace or a report as a PNG or SVG picture."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app


class PlotView(str, Enum):
    auto = "auto"
    ranks = "ranks"
    timeline = "timeline"
    steps = "steps"


@app.command()
def plot(
    file: Annotated[
        Path,
        typer.Argument(help="A simdist.plan/1, simdist.trace/1 or simdist.report/1 JSON file.", show_default=False,
                       metavar="PLAN_TRACE_OR_REPORT.json"),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The picture to write: .png or .svg.", show_default=False, metavar="FILE"),
    ],
    view: Annotated[
        PlotView,
        typer.Option("--view", help="auto: rank map (plan, report) or rank map + timeline (+ steps) for a trace; "
                                    "or just ranks, timeline or steps."),
    ] = PlotView.auto,
    seq: Annotated[
        Optional[int],
        typer.Option("--seq", help="Which collective --view steps draws (its seq; default: the first with steps)."),
    ] = None,
) -> int:
    """Draw where every rank runs, how the launch unfolded, or a collective step by step.

    [bold]simdist explain --nnodes 2 --nproc 2 -f json > plan.json && simdist plot plan.json -o ranks.svg[/bold]
    """
    from ..plot import plot_file  # matplotlib loads here, only when a picture is asked for

    plot_file(file, output, view=view.value, seq=seq)
    return 0
