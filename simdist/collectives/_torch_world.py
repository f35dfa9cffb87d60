"""Many simulated ranks in one process, each with its own ``torch.distributed`` state.

Scenarios call the real ``torch.distributed`` API — its argument checks, group
bookkeeping, object collectives and error messages are torch's own. Only the
backend is simulated. torch keeps its state in one module-level ``_World``; we
install a stand-in that gives every rank (every rank's thread) a private one, the way
torch's own threaded test backend gives every thread one, and switch the C++ group
registry to one registry per thread (torch's ``_set_thread_isolation_mode``).

This is the one module that touches torch internals (``distributed_c10d._world``,
``_new_process_group_helper``, ``_update_default_pg``, the C++ group-name registry).
:func:`check_torch` verifies they are there and fails with a clear message if not.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import greenlet
import torch.distributed as dist
import torch.distributed.distributed_c10d as c10d
import torch._C._distributed_c10d as torch_c10d
from torch._C._distributed_c10d import _unregister_process_group

from .._errors import SimulationError

__all__ = ["IdentityRanks", "RankWorld", "forget_rank_world", "install", "new_rank_world"]

BACKEND_NAME = "simdist"
_REQUIRED = ("_world", "_World", "_new_process_group_helper", "_update_default_pg", "_process_group_name")
_names = itertools.count()


def check_torch() -> None:
    """Fail clearly if this torch lacks the internals the simulator plugs into."""
    missing = [name for name in _REQUIRED if not hasattr(c10d, name)]
    if missing:
        raise SimulationError(
            f"this torch ({getattr(__import__('torch'), '__version__', '?')}) lacks {', '.join(missing)}; "
            "simdist's collective simulation supports torch 2.4 to 2.13"
        )


class IdentityRanks(dict):
    """``{i: i for i in range(n)}`` without building it: torch maps WORLD's ranks to themselves.

    torch's init builds this dict for every process; with tens of thousands of
    simulated ranks in one process that would be quadratic.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def _has(self, key: object) -> bool:
        return isinstance(key, int) and 0 <= key < self.size

    def __getitem__(self, key):
        if self._has(key):
            return key
        raise KeyError(key)

    def get(self, key, default=None):
        return key if self._has(key) else default

    def __contains__(self, key) -> bool:
        return self._has(key)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.size))

    def keys(self):
        return range(self.size)

    def values(self):
        return range(self.size)

    def items(self):
        return ((i, i) for i in range(self.size))


class RankWorld:
    """One rank's private copy of the state torch keeps in ``_World``."""

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.default_pg = None
        self.pg_map: dict = {}
        self.pg_names: dict = {}
        self.pg_group_ranks: dict = {}
        self.pg_backend_config: dict = {}
        self.group_count = 0
        self.tags_to_pg: dict = {}
        self.pg_to_tag: dict = {}
        self.pg_coalesce_state: dict = {}
        self.comms: list = []

    @property
    def pg_config_info(self) -> list[dict[str, Any]]:
        return [
            {"pg_name": self.pg_names[pg], "pg_desc": pg.group_desc, "backend_config": self.pg_backend_config[pg],
             "ranks": list(self.pg_group_ranks[pg].keys()) if len(self.pg_group_ranks[pg]) < 64 else [],
             "group_size": len(self.pg_group_ranks[pg]), "group_count": self.group_count}
            for pg in self.pg_map
        ]  # fmt: skip


class _ThreadWorlds:
    """Installed as ``distributed_c10d._world``: each rank's thread sees its rank's world."""

    def __init__(self, fallback: Any) -> None:
        object.__setattr__(self, "_worlds", {})
        object.__setattr__(self, "_fallback", fallback)

    def _current(self):
        # A rank's thread, or its greenlet: getcurrent() tells them apart either way.
        return self._worlds.get(greenlet.getcurrent(), self._fallback)

    def __getattr__(self, name: str):
        return getattr(self._current(), name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._current(), name, value)


_installed: _ThreadWorlds | None = None


@contextlib.contextmanager
def install() -> Iterator[_ThreadWorlds]:
    """Swap in per-rank worlds (and rank-unique group names) for the duration of a simulation."""
    global _installed
    check_torch()
    _register_backend()
    previous_world, previous_name = c10d._world, c10d._process_group_name
    worlds = _ThreadWorlds(previous_world)
    isolation = getattr(torch_c10d, "_set_thread_isolation_mode", None)
    if isolation is not None:
        isolation(True)
    _installed = worlds

    def rank_unique_name(ranks, use_hashed_name):
        # torch names groups by a per-process counter; in one process many ranks would
        # collide in the C++ registry, so the simulated rank is appended.
        world = worlds._current()
        base = previous_name(ranks, use_hashed_name)
        return f"{base}@sim{world.rank}.{next(_names)}" if isinstance(world, RankWorld) else base

    c10d._world = worlds
    c10d._process_group_name = rank_unique_name
    try:
        yield worlds
    finally:
        c10d._world = previous_world
        c10d._process_group_name = previous_name
        for world in worlds._worlds.values():
            for name in list(world.pg_names.values()):
                with contextlib.suppress(Exception):
                    _unregister_process_group(name)
        worlds._worlds.clear()
        if isolation is not None:
            isolation(False)
        _installed = None


def new_rank_world(rank: int) -> RankWorld:
    """Give the calling thread (a rank's) its own world; torch calls made on it see only that world."""
    assert _installed is not None, "install() first"
    world = RankWorld(rank)
    _installed._worlds[greenlet.getcurrent()] = world
    return world


def forget_rank_world() -> None:
    """The calling rank's thread is ending: drop its world (and its groups from its registry)."""
    if _installed is None:
        return
    world = _installed._worlds.pop(greenlet.getcurrent(), None)
    if world is not None:
        for name in list(world.pg_names.values()):
            with contextlib.suppress(Exception):
                _unregister_process_group(name)


def init_rank(rank: int, size: int, store: dist.Store, timeout: timedelta) -> dist.ProcessGroup:
    """``init_process_group(backend, rank, world_size)`` for the current thread's rank.

    The bookkeeping is torch's (``_new_process_group_helper``); only the identity
    rank map of WORLD is lazy (see :class:`IdentityRanks`).
    """
    name = f"0@sim{rank}.{next(_names)}"
    pg, _ = c10d._new_process_group_helper(size, rank, [], BACKEND_NAME, store, name, timeout=timeout,
                                           group_desc="default_pg")  # fmt: skip
    c10d._update_default_pg(pg)
    c10d._world.pg_group_ranks[pg] = IdentityRanks(size)
    return pg


_factory: Any = None


def set_backend_factory(factory) -> None:
    """The callable that creates a rank's simulated ProcessGroup: ``factory(store, rank, size, timeout)``."""
    global _factory
    _factory = factory


def _register_backend() -> None:
    if BACKEND_NAME.upper() in dist.Backend._plugins:
        return

    def create(store, rank, size, timeout):
        return _factory(store, rank, size, timeout)

    dist.Backend.register_backend(BACKEND_NAME, create, devices=["cpu", "cuda"])

