"""A legend drawn by hand in inch units: measured, wrapped to the figure, one gid per entry."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from . import _style as st

SWATCH_W, SWATCH_H = 0.26, 0.15
ROW = 0.24


def legend_rows(entries: list[tuple[str, str, dict]], width: float) -> list[list[tuple[float, tuple[str, str, dict]]]]:
    """Entries ``(key, text, patch style)`` flowed into rows no wider than ``width``: ``(x offset, entry)``."""
    rows: list[list] = []
    x = 0.0
    for entry in entries:
        span = SWATCH_W + 0.08 + st.text_width(entry[1], st.SMALL_SIZE) + 0.3
        if not rows or x + span > width:
            rows.append([])
            x = 0.0
        rows[-1].append((x, entry))
        x += span
    return rows


def draw_legend(ax: Axes, rows, left: float, top: float, prefix: str) -> float:
    """Draw rows from ``top`` down (gids ``<prefix>-legend-<key>``); return the y below them."""
    y = top
    for row in rows:
        for offset, (key, text, style) in row:
            y0 = y - 0.02 - SWATCH_H
            if "symbol" in style:  # a marker, not a colour: show the marker itself
                st.put_text(ax, left + offset + SWATCH_W / 2, y0 + SWATCH_H / 2, style["symbol"], size=12,
                            ha="center", va="center", color=style["color"], weight="bold", gid=f"{prefix}-legend-{key}")
            else:
                ax.add_artist(Rectangle((left + offset, y0), SWATCH_W, SWATCH_H, gid=f"{prefix}-legend-{key}", **style))
            st.put_text(ax, left + offset + SWATCH_W + 0.08, y0 + SWATCH_H / 2, text, size=st.SMALL_SIZE,
                        va="center")
        y -= ROW
    return y
