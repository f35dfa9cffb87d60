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


def refuse_unused(why: str, given: dict[str, bool]) -> None:
    """A one-line error naming the options that would be silently ignored (``given``: name -> was it set)."""
    from .._errors import ConfigError

    names = [name for name, was_given in given.items() if was_given]
    if names:
        raise ConfigError(f"{', '.join(names)}: {why}")


def refuse_real_options_without_real(real: bool, local_nodes: bool, timeout: float, report: Path) -> None:
    refuse_unused("only used with --real", {"--local-nodes": local_nodes and not real,
                                            "--timeout": timeout != DEFAULT_TIMEOUT and not real,
                                            "--report": report != DEFAULT_REPORT and not real})  # fmt: skip
