"""The workers' side of a job: the default process group that ``init_process_group`` forms.

A :class:`World` is one generation of workers that can talk to each other: under
c10d, the workers of one rendezvous round; under static, the workers of one
attempt (a static restart re-forms only the failed node's workers). ``init`` is the
barrier every rank passes in ``init_process_group``; a rank that dies afterwards
breaks every operation that needs it, as a closed gloo connection does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._errors import WorkerError
from ._kernel import Event, Kernel

__all__ = ["Problem", "World"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that went wrong among the world's ranks: a collective mismatch or a deadlock."""

    outcome: str  # "collective_mismatch" | "deadlock"
    t: float
    message: str
    pending: dict[int, str]  # what each rank was doing
    real: str  # what a real job shows instead


class World:
    """The ranks of one generation and the ``init_process_group`` barrier they share."""

    def __init__(self, kernel: Kernel, key: tuple, size: int, timeout: float) -> None:
        self.kernel = kernel
        self.key = key
        self.size = size
        self.timeout = timeout
        self.members: dict[int, object] = {}  # rank -> the worker currently holding it
        self.gone: set[int] = set()  # ranks whose worker failed or was stopped (it may be restarted)
        self.finished: set[int] = set()  # ranks whose worker exited normally (it will not come back)
        self.ready: Event = kernel.event()
        self._whole: Event | None = None  # fires when restarted ranks have all re-joined
        # What runs on top (the collectives engine) hears of ranks leaving and reports problems here.
        self.on_rank_gone: list[Callable[[int], None]] = []
        self.problems: list[Problem] = []

    def init(self, rank: int, worker: object):
        """Block until every rank of the world has called ``init_process_group``.

        A second live worker with the same RANK (a duplicate --node-rank) loses the
        race: its gloo connections are reset. A worker that re-joins a world that
        already formed (a static restart) connects to its peers while they still
        run, and is refused once one of them has exited.
        """
        holder = self.members.get(rank)
        if holder is not None and holder is not worker and rank not in self.gone and rank not in self.finished:
            raise WorkerError(
                "RuntimeError",
                f"[gloo] Connection reset by peer: another worker already holds RANK {rank} (duplicate --node-rank?)",
            )
        self.members[rank] = worker
        self.gone.discard(rank)
        self.finished.discard(rank)
        if not self.ready.triggered:
            if len(self.members) == self.size:
                self.ready.succeed()
                return
            yield from self._wait(self.ready, lambda: set(range(self.size)) - set(self.members))
            return
        self._refuse_if_peers_finished(rank)
        if not self.gone:
            if self._whole is not None and not self._whole.triggered:
                self._whole.succeed()
            return
        if self._whole is None or self._whole.triggered:
            self._whole = self.kernel.event()
        yield from self._wait(self._whole, lambda: self.gone)
        self._refuse_if_peers_finished(rank)

    def _wait(self, event: Event, missing):
        """Wait for ``event``; on timeout name the first rank ``missing()`` reports (computed lazily:
        thousands of ranks wait here at once)."""
        result = yield self.kernel.any_of([event, self.kernel.timeout(self.timeout)])
        if result is not event:
            raise WorkerError(
                "DistStoreError",
                f"wait timeout after {int(self.timeout * 1000)}ms, keys: /default_pg/0//cpu//0/{min(missing())}",
            )

    def _refuse_if_peers_finished(self, rank: int) -> None:
        peers = sorted(r for r in self.finished if r != rank)
        if peers:
            raise WorkerError("RuntimeError", f"[gloo] Connection refused: rank {peers[0]}'s worker has already exited")

    def leave(self, rank: int, worker: object, *, finished: bool = False) -> None:
        """The worker holding ``rank`` exited (``finished``: normally) or died."""
        if self.members.get(rank) is worker:
            (self.finished if finished else self.gone).add(rank)
            for listener in self.on_rank_gone:
                listener(rank)
