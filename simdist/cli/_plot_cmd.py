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
    calibration = "calibration"


@app.command()
def plot(
    files: Annotated[
        list[Path],
        typer.Argument(help="A simdist.plan/1, simdist.trace/1 or simdist.report/1 JSON file; or profiles "
                       "(simdist.profile/1) and reports to draw predicted vs measured times.", show_default=False,
                       metavar="PLAN_TRACE_REPORT_OR_PROFILE.json…"),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The picture to write: .png or .svg.", show_default=False, metavar="FILE"),
    ],
    view: Annotated[
        PlotView,
        typer.Option("--view", help="auto: rank map (plan, report) or rank map + timeline (+ steps) for a trace, "
                                    "measured vs fitted times for a profile; or just ranks, timeline, steps, or "
                                    "calibration (predicted vs measured times of a profile or --real report)."),
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
    from ..plot._calibration import is_profile_file, plot_calibration_files

    if view is PlotView.calibration or len(files) > 1 or is_profile_file(files[0]):
        if view not in (PlotView.auto, PlotView.calibration) or seq is not None:
            from .._errors import ConfigError

            raise ConfigError("profiles, and several files, are drawn as predicted vs measured times "
                              "(--view calibration); --view ranks|timeline|steps and --seq take one plan, trace or report")  # fmt: skip
        plot_calibration_files(files, output)
        return 0
    plot_file(files[0], output, view=view.value, seq=seq)
    return 0
