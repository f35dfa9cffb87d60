"""Predicted vs measured collective times: log-log time against size, one panel per collective.

Sources, one line (or set of markers) each: a profile's measured points and its fitted
model (per link class), the NVLink-class defaults for scale, and — from a ``--real``
report — every collective's predicted and measured time. Under each panel a strip
marks the residuals, (predicted − measured) / measured, with the ±25 % band shaded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from .._errors import ConfigError
from ..collectives._algorithms import CostModel
from ..collectives._fit import coefficients
from ..collectives._profile import (
    CALIBRATED_OPS, LINK_NAMES, MODEL_ALGORITHM, PROFILE_SCHEMA, Profile, format_size, load_profile, profile_op,
)  # fmt: skip
from ..documents._load import load_document, read_document
from ..documents._report import CollectiveTiming, Report
from . import _style as st
from ._canvas import new_figure

__all__ = ["calibration_figure", "is_profile_file", "plot_calibration_files"]

PANEL_W, PANEL_H, STRIP_H = 5.2, 3.0, 1.1
BAND = 0.25
SOURCE_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
REPORT_PREDICTED, REPORT_MEASURED = "#9467bd", "#d62728"


def is_profile_file(path: str | os.PathLike) -> bool:
    """Does ``path`` hold a document that says it is a profile? (Whether it is a valid one is checked on load.)"""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    return f'"{PROFILE_SCHEMA}"' in head


Calibrated = Profile | Report  # what the figure draws: a profile, or a --real report with collective timings


def _load(path: str | os.PathLike) -> Calibrated:
    """A profile (checked field by field) or a report with collective timings."""
    if is_profile_file(path):
        return load_profile(path)
    return _with_timings(load_document(path), str(path))


def _with_timings(document: object, where: str) -> Report:
    if not isinstance(document, Report):
        raise ConfigError(f"{where}: a {_schema_name(document)} document has no measured times to plot; give a "
                          "simdist.profile/1 (simdist calibrate) or a simdist.report/1 (--real)")  # fmt: skip
    if not document.collectives:
        raise ConfigError(f"{where}: this report has no collective timings (the scenario called none, or an older "
                          "simdist wrote it)")  # fmt: skip
    return document


def _schema_name(document: object) -> str:
    from ..documents._plan import PLAN_SCHEMA
    from ..documents._trace import TRACE_SCHEMA, Trace

    return TRACE_SCHEMA if isinstance(document, Trace) else PLAN_SCHEMA


def _typed(data: Calibrated | Mapping[str, Any]) -> Calibrated:
    """A typed profile or report, as given or read from its JSON form (one-line ConfigError if foreign)."""
    if isinstance(data, (Profile, Report)):
        return data
    if isinstance(data, Mapping) and data.get("schema") == PROFILE_SCHEMA:
        return Profile.from_dict(dict(data), "input")
    return _with_timings(read_document(dict(data) if isinstance(data, Mapping) else data), "input")


def plot_calibration_files(paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> Path:
    """Read profiles and/or reports and save their predicted-vs-measured figure (PNG or SVG)."""
    from ._save import check_writable, save

    check_writable(out_path)
    documents = [_load(p) for p in paths]
    try:
        fig = calibration_figure(documents)
    except (KeyError, TypeError, ValueError, IndexError) as exc:  # a report that lies about its contents
        raise ConfigError(f"malformed document ({type(exc).__name__}: {exc})") from None
    return save(fig, out_path)


def _log_grid(low: int, high: int, per_decade: int = 12) -> list[int]:
    if high <= low:
        return [low]
    steps = max(2, int(math.log10(high / low) * per_decade) + 1)
    return sorted({max(1, round(low * (high / low) ** (i / (steps - 1)))) for i in range(steps)})


class _Panel:
    """What one op's panel shows: lines and marker sets, each with a label, and residual marks."""

    def __init__(self, op: str) -> None:
        self.op = op
        self.lines: list[tuple[list[float], list[float], dict]] = []
        self.markers: list[tuple[list[float], list[float], dict]] = []
        self.residuals: list[tuple[list[float], list[float], dict]] = []


def _profile_panels(profile: Profile, colour_index: int, panels: dict[str, _Panel]) -> int:
    for fit in profile.collectives:
        panel = panels.setdefault(fit.op, _Panel(fit.op))
        colour = SOURCE_COLOURS[colour_index % len(SOURCE_COLOURS)]
        colour_index += 1
        rows = [p for p in profile.points if (p.link, p.op, p.algorithm) == (fit.link, fit.op, fit.algorithm)]
        where = f"{profile.name}, {LINK_NAMES[fit.link]}, {fit.ranks} ranks" + (
            f", {fit.algorithm}" if profile.backend == "nccl" and fit.op == "all_reduce" else "")
        if rows:
            panel.markers.append(([p.bytes for p in rows], [p.time for p in rows],
                                  {"color": colour, "marker": "o", "label": f"measured ({where})"}))  # fmt: skip
            panel.residuals.append(([p.bytes for p in rows], [p.residual for p in rows], {"color": colour, "marker": "o"}))
        low = min((s.min_bytes for s in fit.segments), default=1)
        high = max((s.max_bytes for s in fit.segments), default=low)
        sizes = _log_grid(low, high)
        times = [fit.predict(fit.op, fit.algorithm, fit.ranks, s) for s in sizes]
        panel.lines.append((sizes, times, {"color": colour, "linestyle": "-", "label": f"fit ({where})"}))
    return colour_index


def _defaults_line(panel: _Panel, ranks: int, low: int, high: int) -> None:
    model, op = CostModel(), panel.op
    algorithm = MODEL_ALGORITHM.get(op, "direct")
    sizes = _log_grid(low, high)
    times = []
    for s in sizes:
        k_alpha, k_beta = coefficients(op, algorithm, ranks, s)
        reduce = s * model.gamma * (ranks - 1) / ranks if op in ("all_reduce", "reduce_scatter") else 0.0
        times.append(k_alpha * model.alpha_intra + k_beta * model.beta_intra + reduce)
    panel.lines.append((sizes, times, {"color": st.MUTED, "linestyle": (0, (4, 3)),
                                       "label": f"defaults (NVLink-class, not measured), {ranks} ranks"}))  # fmt: skip


def _report_panels(report: Report, panels: dict[str, _Panel]) -> None:
    cost = report.prediction.cost_model
    source = (cost.source if cost is not None else "") or "simulator"
    by_op: dict[str, list[CollectiveTiming]] = {}
    for row in report.collectives:
        by_op.setdefault(_panel_op(row.op), []).append(row)
    for op, rows in by_op.items():
        panel = panels.setdefault(op, _Panel(op))
        both = [r for r in rows if r.predicted and r.measured]
        predicted = sorted((r.bytes, r.predicted.time) for r in rows if r.predicted)
        measured = [(r.bytes, r.measured.time) for r in rows if r.measured]
        if predicted:
            panel.lines.append(([b for b, _ in predicted], [t for _, t in predicted],
                                {"color": REPORT_PREDICTED, "linestyle": "-", "marker": "s", "markersize": 4,
                                 "label": f"predicted ({_short(source)})"}))  # fmt: skip
        if measured:
            panel.markers.append(([b for b, _ in measured], [t for _, t in measured],
                                  {"color": REPORT_MEASURED, "marker": "x", "label": "measured (--real, per call)"}))  # fmt: skip
        if both:
            panel.residuals.append(([r.bytes for r in both],
                                    [(r.predicted.time - r.measured.time) / r.measured.time for r in both],
                                    {"color": REPORT_MEASURED, "marker": "x"}))  # fmt: skip


def _panel_op(op: str) -> str:
    base = profile_op(op)
    return base if base in CALIBRATED_OPS else op


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def calibration_figure(documents: Sequence[Calibrated | Mapping[str, Any]]) -> Figure:
    """The predicted-vs-measured figure for profiles and ``--real`` reports (typed, or their JSON dicts)."""
    panels: dict[str, _Panel] = {}
    colour_index = 0
    ranks_seen: dict[str, int] = {}
    titles = []
    for document in map(_typed, documents):
        if isinstance(document, Profile):
            colour_index = _profile_panels(document, colour_index, panels)
            for fit in document.collectives:
                ranks_seen.setdefault(fit.op, fit.ranks)
            titles.append(f"{document.name} ({document.backend}, torch {document.torch_version or '?'})")
        else:
            _report_panels(document, panels)
            titles.append(f"--real {document.scenario or ''} ({document.backend})")
    if not panels:
        raise ConfigError("nothing to draw: no measured collectives in the given documents")
    order = [op for op in CALIBRATED_OPS if op in panels] + sorted(op for op in panels if op not in CALIBRATED_OPS)
    for op in order:
        panel = panels[op]
        xs = [x for series in panel.lines + panel.markers for x in series[0]]
        if op in ranks_seen and xs:
            _defaults_line(panel, ranks_seen[op], min(xs), max(xs))
    return _draw([panels[op] for op in order], "Predicted vs measured: " + "; ".join(titles))


def _draw(panels: list[_Panel], title: str) -> Figure:
    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    width, height = columns * PANEL_W + 0.4, rows * (PANEL_H + STRIP_H + 0.55) + 0.55
    fig = new_figure((width, height))
    fig.text(0.5, 1 - 0.3 / height, _short(title, 120), ha="center", va="center", fontsize=st.BODY_SIZE,
             fontfamily=st.FONT, color=st.INK, parse_math=False)  # fmt: skip
    grid = fig.add_gridspec(rows, columns, left=0.16 if columns == 1 else 0.08, right=0.98, top=1 - 0.6 / height,
                            bottom=0.5 / height, hspace=0.3, wspace=0.25)  # fmt: skip
    for index, panel in enumerate(panels):
        row, column = divmod(index, columns)
        cell = grid[row, column].subgridspec(2, 1, height_ratios=[PANEL_H, STRIP_H], hspace=0.06)
        ax = fig.add_subplot(cell[0])
        strip = fig.add_subplot(cell[1], sharex=ax)
        _panel(ax, strip, panel)
    return fig


def _panel(ax, strip, panel: _Panel) -> None:
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    for xs, ys, style in panel.lines:
        ax.plot(xs, ys, linewidth=1.4, **style)
    for xs, ys, style in panel.markers:
        ax.scatter(xs, ys, s=18, zorder=3, **style)
    ax.set_title(panel.op, fontsize=st.BODY_SIZE, fontfamily=st.FONT, color=st.INK)
    ax.set_ylabel("time (s)", fontsize=st.SMALL_SIZE, fontfamily=st.FONT)
    ax.grid(True, which="major", color="#eeeeee", linewidth=0.8)
    ax.tick_params(labelsize=st.SMALL_SIZE - 1, labelbottom=False)
    legend = ax.legend(fontsize=st.SMALL_SIZE - 2, loc="upper left", frameon=False)
    for text in legend.get_texts():
        text.set_parse_math(False)  # profile names and hosts are user data
    strip.axhspan(-BAND * 100, BAND * 100, color="#f0f0f0", zorder=0)
    strip.axhline(0, color=st.MUTED, linewidth=0.8)
    worst = BAND * 100
    for xs, ys, style in panel.residuals:
        values = [y * 100 for y in ys]
        worst = max(worst, *(abs(v) for v in values))
        strip.scatter(xs, values, s=12, zorder=3, **style)
        for x, v in zip(xs, values, strict=True):
            strip.plot([x, x], [0, v], color=style["color"], linewidth=0.8, alpha=0.6)
    limit = min(max(worst * 1.15, 30), 500)
    strip.set_ylim(-limit, limit)
    strip.set_ylabel("resid. %", fontsize=st.SMALL_SIZE, fontfamily=st.FONT)
    strip.tick_params(labelsize=st.SMALL_SIZE - 1)
    ticks = [2**k for k in range(0, 41, 4)]
    xs = [x for series in panel.lines + panel.markers for x in series[0]]
    if xs:
        low, high = min(xs), max(xs)
        shown = [t for t in ticks if low / 2 <= t <= high * 2] or [low]
        strip.set_xticks(shown)
        strip.set_xticklabels([format_size(t).replace(" ", "") for t in shown], fontsize=st.SMALL_SIZE - 1,
                              fontfamily=st.FONT)  # fmt: skip
        ax.set_xlim(low / 1.5, high * 1.5)
    strip.set_xlabel("size (bytes, nccl-tests' S)", fontsize=st.SMALL_SIZE, fontfamily=st.FONT)
