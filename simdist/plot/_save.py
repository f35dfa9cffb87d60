"""Saving figures: PNG or SVG by extension, atomically, SVG byte-stable.

SVG output carries no date and a fixed hash salt (matplotlib derives element ids
from it), so the same figure gives the same bytes on every run and machine with
the same matplotlib: a regenerated figure that differs is a real change.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from .._errors import ConfigError
from ..documents import _io as _files
from ..documents._io import write_atomic
from ._style import DPI

FORMATS = {".png": "png", ".svg": "svg"}
_STABLE_RC = {"svg.hashsalt": "simdist", "svg.fonttype": "path", "path.simplify": True}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}}


def format_for(path: str | os.PathLike) -> str:
    """``png`` or ``svg`` from the file name; anything else is a ConfigError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise ConfigError(f"cannot plot to {path}: {shown} is not a picture format simdist writes; use .png or .svg")
    return FORMATS[suffix]


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (before drawing, or simulating) when a picture cannot be written to ``path``.

    Checks the extension (.png or .svg) and the folder; raises a one-line ConfigError.
    """
    format_for(path)
    return _files.check_writable(path)


def render(fig: Figure, fmt: str) -> bytes:
    """The figure's bytes in ``fmt``, identical for identical figures."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STABLE_RC):  # scoped: the user's rcParams are left alone
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=_METADATA[fmt], facecolor="white")
    return buffer.getvalue()


def save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG (by extension), atomically."""
    target = check_writable(path)
    return write_atomic(target, render(fig, format_for(target)))
