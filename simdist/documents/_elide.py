"""Eliding long lists for eyes: keep both ends and whatever must show, count what is left out.

One rule for every view of a large cluster (the text tree and table, the rank map, the
timeline): up to ``limit`` items show whole; beyond it the first ``head`` and last
``tail`` stay, and so does every item ``keep`` selects, so a node or worker where
something went wrong is never hidden in the middle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Elided", "elide"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Elided:
    """A run of ``count`` consecutive items left out of the view."""

    count: int


def elide(items: Sequence[T], limit: int, head: int, tail: int,
          keep: Callable[[T], bool] | None = None) -> list[T | Elided]:  # fmt: skip
    """The items to show in order, each run of left-out items replaced by one :class:`Elided`."""
    if len(items) <= limit:
        return list(items)
    out: list[T | Elided] = []
    run = 0
    for i, item in enumerate(items):
        if i < head or i >= len(items) - tail or (keep is not None and keep(item)):
            if run:
                out.append(Elided(run))
                run = 0
            out.append(item)
        else:
            run += 1
    if run:
        out.append(Elided(run))
    return out
