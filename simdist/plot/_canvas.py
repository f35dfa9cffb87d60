"""Figures without pyplot: no global state, no windows, the Agg canvas attached.

A *drawing* knows its size in inches and draws itself into a box of a figure;
:func:`compose` stacks several drawings (a rank map above a timeline) into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._style import DPI


class Drawing(Protocol):
    size: tuple[float, float]  # width, height in inches

    def draw(self, fig: Figure, box: tuple[float, float, float, float]) -> None:
        """Draw into ``box`` = (left, bottom, width, height) in figure fractions."""


def new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)  # explicit Agg: never a GUI backend, whatever the user's rcParams say
    return fig


def inch_axes(fig: Figure, box: tuple[float, float, float, float], size: tuple[float, float], gid: str) -> Axes:
    """An invisible axes over ``box`` whose data units are inches of the drawing."""
    ax = fig.add_axes(box)
    prepare_inch_axes(ax, size)
    ax.set_gid(gid)
    return ax


# Patches are added with ``ax.add_artist``, not ``add_patch``: the limits are fixed up
# front, and add_patch's autoscaling bookkeeping costs ~0.6 ms a patch (seconds for a
# large ring).


def prepare_inch_axes(ax: Axes, size: tuple[float, float]) -> None:
    ax.set_xlim(0, size[0])
    ax.set_ylim(0, size[1])
    ax.set_aspect("equal", adjustable="box", anchor="NW")
    ax.set_axis_off()


def root_figure(ax: Axes) -> Figure:
    fig = ax.figure
    while getattr(fig, "figure", fig) is not fig:  # a SubFigure's .figure is its parent
        fig = fig.figure
    return fig  # type: ignore[return-value]


def compose(drawings: Sequence[Drawing], gap: float = 0.0) -> Figure:
    """One figure with ``drawings`` stacked top to bottom, each at its own size."""
    width = max(d.size[0] for d in drawings)
    height = sum(d.size[1] for d in drawings) + gap * (len(drawings) - 1)
    fig = new_figure((width, height))
    top = height
    for drawing in drawings:
        w, h = drawing.size
        top -= h
        drawing.draw(fig, (0, top / height, w / width, h / height))
        top -= gap
    return fig


def single(drawing: Drawing) -> Figure:
    fig = new_figure(drawing.size)
    drawing.draw(fig, (0, 0, 1, 1))
    return fig
