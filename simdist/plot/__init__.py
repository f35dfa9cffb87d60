"""Diagrams of simdist documents: rank-to-GPU maps, collective steps, launch timelines.

The only part of simdist that imports matplotlib, and only when it is itself
imported (``simdist.plot`` loads lazily; ``simdist explain`` never pays for it).
Figures are plain :class:`matplotlib.figure.Figure` objects on the Agg canvas:
no pyplot, no global state, no windows.

    import simdist, simdist.plot
    plan = simdist.make_plan(simdist.LaunchSpec(nnodes=2, nproc_per_node=2)).document()
    simdist.plot.save(simdist.plot.rank_map(plan), "ranks.svg")

Every drawing takes a typed document (:class:`~simdist.documents.PlanDocument`,
:class:`~simdist.documents.Trace`, :class:`~simdist.documents.Report`) or its JSON form as
a dict; a dict is read (and checked, one line per problem) at the door.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._errors import ConfigError
from ..documents import (
    PLAN_SCHEMA,
    REPORT_SCHEMA,
    TRACE_SCHEMA,
    Document,
    PlanDocument,
    Report,
    Trace,
    load_document,
    read_document,
)
from ._canvas import compose, prepare_inch_axes, root_figure, single
from ._gantt import TimelineDrawing
from ._rank_map import MARGIN as RANK_MAP_MARGIN, RankMapDrawing
from ._rank_model import plan_model, report_model
from ._save import check_writable as check_path, save
from ._steps import StepsDrawing, find_collective, has_steps

__all__ = ["check_path", "draw", "plot_file", "rank_map", "ring_steps", "save", "timeline"]

VIEWS = ("auto", "ranks", "timeline", "steps")
MAX_AUTO_STEP_RANKS = 16

Drawable = Document | Mapping[str, Any]  # a typed document, or its JSON form


def _document(data: Drawable) -> Document:
    """The typed document to draw: as given, or read from its JSON form (a one-line ConfigError if foreign)."""
    if isinstance(data, (PlanDocument, Trace, Report)):
        return data
    return read_document(dict(data) if isinstance(data, Mapping) else data)


def _schema(doc: Document) -> str:
    return PLAN_SCHEMA if isinstance(doc, PlanDocument) else TRACE_SCHEMA if isinstance(doc, Trace) else REPORT_SCHEMA


def _rank_map_drawing(doc: Document, **layout) -> RankMapDrawing:
    if isinstance(doc, Report):
        return RankMapDrawing(report_model(doc), **layout)
    if isinstance(doc, PlanDocument):
        return RankMapDrawing(plan_model(doc), **layout)
    if doc.plan is None:
        raise ConfigError(f"input: this {TRACE_SCHEMA} document has no plan (the rendezvous never completed), "
                          "so there is no rank map to draw")  # fmt: skip
    return RankMapDrawing(plan_model(doc.plan, title_prefix=f"Simulated (seed {doc.seed}): "), **layout)


def _trace(data: Drawable, who: str) -> Trace:
    doc = _document(data)
    if not isinstance(doc, Trace):
        raise ConfigError(f"{who} needs a {TRACE_SCHEMA} document (from `simdist simulate -f json`)")
    return doc


def rank_map(data: Drawable, ax: Axes | None = None) -> Figure:
    """Draw where every worker runs: one box per node, one cell per GPU.

    ``data`` is a plan (the prediction), a trace (the plan its rendezvous decided) or a
    report (the observed placement of a real run, every difference from the prediction
    outlined in red): a typed document or its ``simdist.plan/1``, ``simdist.trace/1`` or
    ``simdist.report/1`` dict. With ``ax`` the map is drawn into it, in inch units;
    otherwise a figure of the right size is made. Returns the figure.
    """
    drawing = _rank_map_drawing(_document(data))
    if ax is None:
        return single(drawing)
    prepare_inch_axes(ax, drawing.size)
    drawing.draw_on(ax)
    return root_figure(ax)


def ring_steps(trace: Trace | Mapping[str, Any], seq: int | None = None, group: str | None = None) -> Figure:
    """Draw a collective step by step from a trace: which chunk moves where.

    Picks the first collective that recorded ``collective_step`` events (or the
    one with sequence number ``seq``, in ``group`` if given). One panel per
    step, ranks on a circle, an arrow per transfer labelled with its chunk, and
    every rank's buffer shaded by how many ranks' data each chunk holds.
    """
    return single(StepsDrawing(_trace(trace, "ring_steps"), seq=seq, group=group))


def timeline(trace: Trace | Mapping[str, Any]) -> Figure:
    """Draw the launch as a Gantt chart: agents, rendezvous rounds, workers, restarts, collectives."""
    return single(TimelineDrawing(_trace(trace, "timeline")))


def draw(data: Drawable, view: str = "auto", seq: int | None = None) -> Figure:
    """The figure ``simdist plot`` draws for a plan, trace or report (typed, or its dict).

    ``auto``: a plan or report gives its rank map; a trace gives the rank map of
    its plan above the launch timeline, and below them the steps of its first
    collective when it recorded any (up to ``MAX_AUTO_STEP_RANKS`` ranks; ``steps``
    or a ``seq`` draws them for any size).
    """
    if view not in VIEWS:
        raise ConfigError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
    doc = _document(data)
    if view == "ranks":
        return rank_map(doc)
    if not isinstance(doc, Trace):
        if view != "auto":
            raise ConfigError(f"a {_schema(doc)} document has no {view} to draw; only a {TRACE_SCHEMA} does")
        return rank_map(doc)
    if view == "timeline":
        return timeline(doc)
    if view == "steps":
        return ring_steps(doc, seq=seq)
    with_map = doc.plan is not None
    gantt = TimelineDrawing(doc, title=not with_map)
    drawings: list = [gantt]
    if with_map:  # as wide as the timeline below it, so the two read as one picture
        drawings.insert(0, _rank_map_drawing(doc, min_width=gantt.size[0] - 2 * RANK_MAP_MARGIN))
    # Step panels grow with ranks × chunks: beyond a few dozen cells per row, ask for them (--view steps).
    if has_steps(doc) and (seq is not None or len(find_collective(doc).ranks) <= MAX_AUTO_STEP_RANKS):
        drawings.append(StepsDrawing(doc, seq=seq))
    return compose(drawings)


def plot_file(in_path: str | os.PathLike, out_path: str | os.PathLike, view: str = "auto",
              seq: int | None = None) -> Path:
    """Read a plan, trace or report JSON file and save its figure as PNG or SVG.

    Every problem (unreadable or foreign input, an unknown extension, a folder
    that cannot be written) is a one-line :class:`~simdist.ConfigError`, raised
    before any drawing starts where it can be known then.
    """
    check_path(out_path)
    try:
        fig = draw(load_document(in_path), view=view, seq=seq)
    except ConfigError:  # already one line that says what is wrong
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # a document that lies about its schema
        problem = f"{type(exc).__name__}: {exc}"
        raise ConfigError(f"{in_path}: malformed {_claimed_schema(in_path)} document ({problem})") from None
    return save(fig, out_path)


def _claimed_schema(path: str | os.PathLike) -> str:
    """The schema a file says it holds, to name it in an error (it read as JSON with that schema already)."""
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8")).get("schema")
    except (OSError, ValueError, RecursionError, AttributeError):
        schema = None
    return schema if isinstance(schema, str) else "simdist"
