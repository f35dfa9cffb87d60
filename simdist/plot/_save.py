"""Saving figures: PNG or SVG by extension, atomically, SVG byte-stable.

SVG output carries no date and a fixed hash salt (matplotlib derives element ids
from it), so the same figure gives the same bytes on every run and machine with
the same matplotlib: a regenerated figure that differs is a real change.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from .._errors import ConfigError
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
    target = Path(path)
    format_for(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        why = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"cannot write {target}: folder {folder} {why}")
    if target.is_dir():
        raise ConfigError(f"cannot write {target}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot write {target}: folder {folder} is not writable")
    return target


def render(fig: Figure, fmt: str) -> bytes:
    """The figure's bytes in ``fmt``, identical for identical figures."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STABLE_RC):  # scoped: the user's rcParams are left alone
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=_METADATA[fmt], facecolor="white")
    return buffer.getvalue()


def save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG (by extension) via a temporary file and a rename."""
    target = check_writable(path)
    data = render(fig, format_for(target))
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; give the mode open() would
        os.replace(temp, target)
    except OSError as exc:
        _remove(temp)
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(temp)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
