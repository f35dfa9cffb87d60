"""``--real``: each collective's predicted and measured time and bus bandwidth, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..documents._report import Report, TimedCall

MAX_ROWS = 20


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _gbps(side: TimedCall | None) -> str:
    return "—" if side is None else f"{side.busbw / 1e9:.3f}"


def _ranks(ranks: tuple[int, ...]) -> str:
    if ranks and ranks == tuple(range(ranks[0], ranks[-1] + 1)) and len(ranks) > 2:
        return f"{ranks[0]}–{ranks[-1]}"
    return ",".join(map(str, ranks[:8])) + ("…" if len(ranks) > 8 else "")


def show_collectives(report: Report, console) -> None:
    """A table of the collectives the program called (if it called any), then where the predictions come from."""
    from rich.table import Table

    from ..collectives._profile import format_size

    rows = report.collectives
    if not rows:
        return
    table = Table(title="Collectives: predicted vs measured (busbw with nccl-tests' factors)", title_justify="left",
                  header_style="bold cyan")  # fmt: skip
    for column in ("op", "ranks", "size", "predicted", "measured", "meas./pred.", "busbw pred.", "busbw meas."):
        table.add_column(column, justify="left" if column in ("op", "ranks") else "right")
    for row in rows[:MAX_ROWS]:
        predicted, measured = row.predicted, row.measured
        ratio = row.measured_over_predicted
        table.add_row(row.op, _ranks(row.ranks), format_size(row.bytes),
                      _time(predicted and predicted.time), _time(measured and measured.time),
                      "—" if ratio is None else f"{ratio:.3g}×", _gbps(predicted), _gbps(measured))  # fmt: skip
    console.print(table)
    if len(rows) > MAX_ROWS:
        console.print(f"  … {len(rows) - MAX_ROWS} more collectives in the report", highlight=False)
    cost = report.prediction.cost_model
    if cost is not None and cost.source:
        console.print(f"predicted times: {cost.source}", highlight=False, markup=False)
    hint = "" if cost is not None and cost.measured else "; `simdist calibrate` measures this machine"
    console.print(f"measured: the fastest rank's time per call{hint}", highlight=False, markup=False)
