"""Diagrams of simdist documents: rank-to-GPU maps, collective steps, launch timelines.

The only part of simdist that imports matplotlib, and only when it is itself
imported (``simdist.plot`` loads lazily; ``simdist explain`` never pays for it).
Figures are plain :class:`matplotlib.figure.Figure` objects on the Agg canvas:
no pyplot, no global state, no windows.

    import simdist, simdist.plot
    plan = simdist.make_plan(simdist.LaunchSpec(nnodes=2, nproc_per_node=2)).to_dict()
    simdist.plot.save(simdist.plot.rank_map(plan), "ranks.svg")
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._errors import ConfigError
from . import _load
from ._canvas import compose, prepare_inch_axes, root_figure, single
from ._gantt import TimelineDrawing
from ._rank_map import MARGIN as RANK_MAP_MARGIN, RankMapDrawing
from ._rank_model import plan_model, report_model
from ._save import check_writable as check_path, save
from ._steps import StepsDrawing, find_collective, has_steps

__all__ = ["check_path", "draw", "plot_file", "rank_map", "ring_steps", "save", "timeline"]

VIEWS = ("auto", "ranks", "timeline", "steps")
MAX_AUTO_STEP_RANKS = 16


def _rank_map_drawing(data: dict, **layout) -> RankMapDrawing:
    schema = _load.check(data)
    if schema == _load.REPORT:
        return RankMapDrawing(report_model(data), **layout)
    plan = _load.plan_of(data)
    prefix = ""
    if schema == _load.TRACE:
        prefix = f"Simulated (seed {data.get('seed')}): "
    return RankMapDrawing(plan_model(plan, title_prefix=prefix), **layout)


def rank_map(data: dict, ax: Axes | None = None) -> Figure:
    """Draw where every worker runs: one box per node, one cell per GPU.

    ``data`` is a ``simdist.plan/1`` dict (the prediction), a ``simdist.trace/1``
    dict (the plan its rendezvous decided) or a ``simdist.report/1`` dict (the
    observed placement of a real run, every difference from the prediction
    outlined in red). With ``ax`` the map is drawn into it, in inch units;
    otherwise a figure of the right size is made. Returns the figure.
    """
    drawing = _rank_map_drawing(data)
    if ax is None:
        return single(drawing)
    prepare_inch_axes(ax, drawing.size)
    drawing.draw_on(ax)
    return root_figure(ax)


def ring_steps(trace: dict, seq: int | None = None, group: str | None = None) -> Figure:
    """Draw a collective step by step from a trace: which chunk moves where.

    Picks the first collective that recorded ``collective_step`` events (or the
    one with sequence number ``seq``, in ``group`` if given). One panel per
    step, ranks on a circle, an arrow per transfer labelled with its chunk, and
    every rank's buffer shaded by how many ranks' data each chunk holds.
    """
    if _load.check(trace) != _load.TRACE:
        raise ConfigError("ring_steps needs a simdist.trace/1 document (from `simdist simulate -f json`)")
    return single(StepsDrawing(trace, seq=seq, group=group))


def timeline(trace: dict) -> Figure:
    """Draw the launch as a Gantt chart: agents, rendezvous rounds, workers, restarts, collectives."""
    if _load.check(trace) != _load.TRACE:
        raise ConfigError("timeline needs a simdist.trace/1 document (from `simdist simulate -f json`)")
    return single(TimelineDrawing(trace))


def draw(data: dict, view: str = "auto", seq: int | None = None) -> Figure:
    """The figure ``simdist plot`` draws for a plan, trace or report dict.

    ``auto``: a plan or report gives its rank map; a trace gives the rank map of
    its plan above the launch timeline, and below them the steps of its first
    collective when it recorded any (up to ``MAX_AUTO_STEP_RANKS`` ranks; ``steps``
    or a ``seq`` draws them for any size).
    """
    if view not in VIEWS:
        raise ConfigError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
    schema = _load.check(data)
    if view == "ranks":
        return rank_map(data)
    if schema != _load.TRACE:
        if view != "auto":
            raise ConfigError(f"a {schema} document has no {view} to draw; only a simdist.trace/1 does")
        return rank_map(data)
    if view == "timeline":
        return timeline(data)
    if view == "steps":
        return ring_steps(data, seq=seq)
    with_map = data.get("plan") is not None
    gantt = TimelineDrawing(data, title=not with_map)
    drawings: list = [gantt]
    if with_map:  # as wide as the timeline below it, so the two read as one picture
        drawings.insert(0, _rank_map_drawing(data, min_width=gantt.size[0] - 2 * RANK_MAP_MARGIN))
    # Step panels grow with ranks × chunks: beyond a few dozen cells per row, ask for them (--view steps).
    if has_steps(data) and (seq is not None or len(find_collective(data).ranks) <= MAX_AUTO_STEP_RANKS):
        drawings.append(StepsDrawing(data, seq=seq))
    return compose(drawings)


def plot_file(in_path: str | os.PathLike, out_path: str | os.PathLike, view: str = "auto",
              seq: int | None = None) -> Path:
    """Read a plan, trace or report JSON file and save its figure as PNG or SVG.

    Every problem (unreadable or foreign input, an unknown extension, a folder
    that cannot be written) is a one-line :class:`~simdist.ConfigError`, raised
    before any drawing starts where it can be known then.
    """
    check_path(out_path)
    data = _load.load(in_path)
    try:
        fig = draw(data, view=view, seq=seq)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # a document that lies about its schema
        raise ConfigError(f"{in_path}: malformed {data.get('schema')} document ({type(exc).__name__}: {exc})") from None
    return save(fig, out_path)
