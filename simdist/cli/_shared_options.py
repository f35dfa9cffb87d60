"""Options that several commands share: --plot and the --real group."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

REAL_PANEL = "Real run (--real)"


class Backend(str, Enum):
    auto = "auto"
    gloo = "gloo"
    nccl = "nccl"


PlotOption = Annotated[
    Optional[Path],
    typer.Option("--plot", help="Also draw it: rank-to-GPU map (and, for a simulation, the timeline and steps); "
                               ".png or .svg.", metavar="FILE"),
]  # fmt: skip
RealOption = Annotated[
    bool, typer.Option("--real", help="Run it through real torchrun and compare with the prediction.", rich_help_panel=REAL_PANEL)
]
LocalNodesOption = Annotated[
    bool, typer.Option("--local-nodes", help="With --real: one torchrun agent per node on 127.0.0.1.", rich_help_panel=REAL_PANEL)
]
BackendOption = Annotated[
    Backend,
    typer.Option("--backend", help="auto: NCCL when there is a GPU for every local process, else gloo.",
                 rich_help_panel=REAL_PANEL),
]  # fmt: skip
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="With --real: stop everything after this many seconds.", rich_help_panel=REAL_PANEL)
]
ReportOption = Annotated[
    Path, typer.Option("--report", help="With --real: where to write simdist.report/1.", rich_help_panel=REAL_PANEL)
]
DEFAULT_REPORT = Path("simdist-report.json")
DEFAULT_TIMEOUT = 120.0
