"""Tracebacks as a real worker would print them: the launcher's own frames left out."""

from __future__ import annotations

import types
from collections.abc import Callable

__all__ = ["without_frames"]


def without_frames(tb: types.TracebackType | None, drop: Callable[[str], bool]) -> types.TracebackType | None:
    """The same traceback without the frames whose file name ``drop`` selects (simdist's, runpy's)."""
    kept = []
    while tb is not None:
        if not drop(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for frame in reversed(kept):
        chain = types.TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return chain
