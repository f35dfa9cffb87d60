"""Colours, sizes and text helpers shared by every simdist figure.

Figures are laid out in inches with an axes that fills the whole figure, so a
font size in points means the same thing in every drawing and text can be
measured before it is placed (nothing overlaps by luck).
"""

from __future__ import annotations

import functools

from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

# One colour per node, colour-blind-friendly-ish and never red or grey: red means
# "wrong" and grey means "idle" in every simdist figure.
NODE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
ERROR = "#d62728"
WARN = "#b35900"
OK = "#2a7d2a"
INK = "#222222"
MUTED = "#666666"
IDLE_FILL, IDLE_EDGE = "#e8e8e8", "#a8a8a8"
HIDDEN_FILL = "#f6f6f6"
NO_GPU_FILL = "#fde2df"

FONT = "DejaVu Sans"  # shipped with matplotlib: the same glyphs (and SVG bytes) everywhere
TITLE_SIZE = 12.5
BODY_SIZE = 10
SMALL_SIZE = 8.5

DPI = 150  # PNG resolution: sharp on a laptop screen, small enough for a README


def node_colour(group_rank: int) -> str:
    return NODE_COLOURS[group_rank % len(NODE_COLOURS)]


def tint(colour: str, amount: float) -> tuple[float, float, float]:
    """``colour`` mixed with white; ``amount`` 0 is the colour, 1 is white."""
    value = colour.lstrip("#")
    rgb = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    return tuple(c + (1 - c) * amount for c in rgb)  # type: ignore[return-value]


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size: float, weight: str = "normal") -> float:
    """Width of one line of text in inches, as it will be drawn."""
    prop = FontProperties(family=FONT, size=size, weight=weight)
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def fit(text: str, width: float, size: float, weight: str = "normal") -> str:
    """``text`` cut with an ellipsis so that it is at most ``width`` inches wide."""
    width += 1e-6  # a box sized to the text, minus its padding, may come back a rounding error short
    if text_width(text, size, weight) <= width:
        return text
    while len(text) > 1 and text_width(text + "…", size, weight) > width:
        text = text[:-1]
    return text + "…"


def wrap(text: str, width: float, size: float, weight: str = "normal") -> list[str]:
    """Break ``text`` into lines at most ``width`` inches wide (words stay whole where they fit)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, size, weight) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(fit(line, width, size, weight))
    return lines


def put_text(ax, x: float, y: float, text: str, *, size: float = BODY_SIZE, **kw):
    """``ax.text`` for user data: never parsed as mathtext (hostnames, errors may hold ``$``)."""
    kw.setdefault("color", INK)
    return ax.text(x, y, text, fontsize=size, fontfamily=FONT, parse_math=False, **kw)


def put_lines(ax, x: float, top: float, lines: list[str], step: float, gid: str, **kw) -> float:
    """Lines from ``top`` down, ``step`` inches apart; return the y below them.

    The first line gets ``gid``, the next ``gid-1``, ``gid-2``…: SVG ids must be unique.
    """
    y = top
    for i, line in enumerate(lines):
        put_text(ax, x, y, line, va="top", gid=gid if i == 0 else f"{gid}-{i}", **kw)
        y -= step
    return y
