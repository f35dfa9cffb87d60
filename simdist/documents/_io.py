"""Writing result files atomically: a reader never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .._errors import ConfigError

__all__ = ["check_writable", "write_atomic"]


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, with one line, when ``path`` cannot be written (before a long run, not after)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        why = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"cannot write {target}: folder {folder} {why}")
    if target.is_dir():
        raise ConfigError(f"cannot write {target}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot write {target}: folder {folder} is not writable")
    return target


def write_atomic(path: str | os.PathLike, data: str | bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    The file gets the mode a plain ``open()`` would give it, or exactly ``mode`` (0o755 for
    a script); any failure is a one-line ConfigError and leaves no temporary file behind.
    """
    target = check_writable(path)
    folder = target.parent if str(target.parent) else Path(".")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
        os.replace(temp, target)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    return target


def _umask() -> int:
    # Read without changing it for long: os.umask has no read-only form.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
