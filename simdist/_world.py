"""The workers' side of a job: the default process group that ``init_process_group`` forms.

A :class:`World` is one generation of workers that can talk to each other: under
c10d, the workers of one rendezvous round; under static, the workers of one
attempt (a static restart re-forms only the failed node's workers). ``init`` is the
barrier every rank passes in ``init_process_group``; a rank that dies afterwards
breaks every operation that needs it, as a closed gloo connection does.
"""

from __future__ import annotations

from typing import Any

from ._kernel import Event, Kernel

__all__ = ["World", "WorkerError"]


class WorkerError(Exception):
    """A worker raised: ``kind`` is the exception type torch would raise."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class World:
    """The ranks of one generation and the ``init_process_group`` barrier they share."""

    def __init__(self, kernel: Kernel, key: tuple, size: int, timeout: float) -> None:
        self.kernel = kernel
        self.key = key
        self.size = size
        self.timeout = timeout
        self.members: dict[int, object] = {}  # rank -> the worker currently holding it
        self.gone: set[int] = set()  # ranks whose worker has exited or died
        self.ready: Event = kernel.event()
        self.engine: Any = None  # the collectives engine, attached by the scenario runner

    def init(self, rank: int, worker: object):
        """Block until every rank of the world has called ``init_process_group``.

        A second live worker with the same RANK (a duplicate --node-rank) loses the
        race: its gloo connections are reset. A worker that joins a world that already
        formed (a static restart) succeeds while its peers still run.
        """
        holder = self.members.get(rank)
        if holder is not None and holder is not worker and rank not in self.gone:
            raise WorkerError(
                "RuntimeError",
                f"[gloo] Connection reset by peer: another worker already holds RANK {rank} (duplicate --node-rank?)",
            )
        self.members[rank] = worker
        self.gone.discard(rank)
        if self.ready.triggered:
            peers = sorted(r for r in self.gone if r != rank)
            if peers:
                raise WorkerError(
                    "RuntimeError",
                    f"[gloo] Connection refused: rank {peers[0]}'s worker has already exited",
                )
            return
        if len(self.members) == self.size:
            self.ready.succeed()
            return
        result = yield self.kernel.any_of([self.ready, self.kernel.timeout(self.timeout)])
        if result is not self.ready:
            missing = min(set(range(self.size)) - set(self.members))
            raise WorkerError(
                "DistStoreError", f"wait timeout after {int(self.timeout * 1000)}ms, keys: /default_pg/0//cpu//0/{missing}"
            )

    def leave(self, rank: int, worker: object) -> None:
        """The worker holding ``rank`` exited or died."""
        if self.members.get(rank) is worker:
            self.gone.add(rank)
            if self.engine is not None:
                self.engine.rank_gone(rank)
