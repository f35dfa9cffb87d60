"""Timing the collectives a scenario or script calls under real torchrun, and setting them beside the prediction.

In the worker, :func:`install` wraps the public ``torch.distributed`` collectives so
each blocking call records its op, group, size (bytes as nccl-tests counts them: the
whole array for all_gather, reduce_scatter and all_to_all) and wall time (after a CUDA
synchronize on GPUs). Asynchronous calls (``async_op=True``) are not timed. Calls that
torch makes internally (inside ``all_gather_object``, say) are not seen.

In the launcher, :func:`compare_collectives` pairs them, in order, with the simulated
collectives of the same op, group and size. A collective's measured time is the
shortest of its ranks' times: the rank that arrived last waited least, so its time is
the collective's own rather than the wait for a late peer.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence

from ..collectives._algorithms import bus_factor
from ..collectives._profile import profile_op
from ..documents._report import CollectiveTiming, PredictedCollective, TimedCall

__all__ = ["MAX_RECORDS", "TimingLog", "compare_collectives", "install"]

MAX_RECORDS = 10_000  # per rank: a training loop's collectives beyond this are counted, not kept


def _n(dist, group) -> int:
    return dist.get_world_size(group)


# public name -> (the op as the simulator records it, bytes from the bound arguments and the group size)
_SIZES: dict[str, tuple[str, Callable]] = {
    "all_reduce": ("all_reduce", lambda a, n: a["tensor"].nbytes),
    "broadcast": ("broadcast", lambda a, n: a["tensor"].nbytes),
    "reduce": ("reduce", lambda a, n: a["tensor"].nbytes),
    "all_gather": ("all_gather", lambda a, n: a["tensor"].nbytes * n),
    "all_gather_into_tensor": ("all_gather_into_tensor", lambda a, n: a["output_tensor"].nbytes),
    "all_gather_single": ("all_gather_into_tensor", lambda a, n: _first(a, "output_tensor", "output").nbytes),
    "reduce_scatter": ("reduce_scatter", lambda a, n: sum(t.nbytes for t in a["input_list"])),
    "reduce_scatter_tensor": ("reduce_scatter_tensor", lambda a, n: a["input"].nbytes),
    "reduce_scatter_single": ("reduce_scatter_tensor", lambda a, n: _first(a, "input", "input_tensor").nbytes),
    "all_to_all": ("all_to_all", lambda a, n: sum(t.nbytes for t in a["input_tensor_list"])),
    "all_to_all_single": ("all_to_all_single", lambda a, n: a["input"].nbytes),
    "gather": ("gather", lambda a, n: a["tensor"].nbytes * n),
    "scatter": ("scatter", lambda a, n: a["tensor"].nbytes * n),
    "barrier": ("barrier", lambda a, n: 4),  # the simulator times a barrier as a 4-byte all_reduce
}


def _first(arguments: dict, *names: str):
    for name in names:
        if name in arguments:
            return arguments[name]
    raise KeyError(names[0])


class TimingLog:
    """The collectives one rank called, in order (at most MAX_RECORDS kept)."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.dropped = 0
        self._restore: list[tuple[object, str, object]] = []

    def add(self, record: dict) -> None:
        if len(self.records) < MAX_RECORDS:
            self.records.append(record)
        else:
            self.dropped += 1

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()


def install(dist, torch, backend: str | None) -> TimingLog:
    """Wrap ``dist``'s public collectives so every blocking call is timed into the returned log.

    ``backend`` None: not known yet (a script calls ``init_process_group`` itself); the
    first timed call asks the default group's.
    """
    log = TimingLog()
    if backend is None:
        sync = _LazySync(dist, torch)
    else:
        sync = torch.cuda.synchronize if backend == "nccl" and torch.cuda.is_available() else None
    for name, (op, size_of) in _SIZES.items():
        original = getattr(dist, name, None)
        if original is None:
            continue
        setattr(dist, name, _wrap(dist, original, op, size_of, log, sync))
        log._restore.append((dist, name, original))
    return log


class _LazySync:
    """``torch.cuda.synchronize`` on NCCL, nothing otherwise, decided at the first call (the group exists then)."""

    def __init__(self, dist, torch) -> None:
        self._dist, self._torch, self._sync = dist, torch, None
        self._decided = False

    def __call__(self) -> None:
        if not self._decided:
            self._decided = True
            try:
                nccl = self._dist.get_backend() == "nccl" and self._torch.cuda.is_available()
            except Exception:  # noqa: BLE001 - no default group yet: torch's own call will say so
                self._decided = False
                return
            self._sync = self._torch.cuda.synchronize if nccl else None
        if self._sync is not None:
            self._sync()


def _wrap(dist, original, op: str, size_of: Callable, log: TimingLog, sync):
    signature = inspect.signature(original)

    def timed(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
        except TypeError:
            return original(*args, **kwargs)  # let torch say what is wrong with the call
        if arguments.get("async_op"):
            return original(*args, **kwargs)
        if sync is not None:
            sync()
        start = time.perf_counter()
        result = original(*args, **kwargs)
        if sync is not None:
            sync()
        elapsed = time.perf_counter() - start
        try:
            group = arguments.get("group")
            n = _n(dist, group)
            ranks = list(dist.get_process_group_ranks(group)) if group is not None else list(range(n))
            log.add({"op": op, "ranks": ranks, "bytes": int(size_of(arguments, n)), "time": elapsed})
        except Exception:  # noqa: BLE001 - timing is a report, never a reason to fail the program
            pass
        return result

    timed.__wrapped__ = original
    timed.__name__ = getattr(original, "__name__", op)
    timed.__doc__ = getattr(original, "__doc__", None)
    return timed


def compare_collectives(predicted: Sequence[PredictedCollective],
                        records: Sequence[Mapping]) -> tuple[CollectiveTiming, ...]:  # fmt: skip
    """One row per collective: the prediction beside the measurement, matched in order by (op, ranks, bytes).

    ``predicted``: the simulated collectives (:class:`Prediction.collectives`); ``records``:
    the workers' records, each with the ``collectives`` its rank timed. Rows are in the
    predicted order, then any measured collective the simulation did not have.
    """
    queues: dict[tuple, list[list[float]]] = {}
    per_rank: dict[int, dict[tuple, list[float]]] = {}
    for record in records:
        mine: dict[tuple, list[float]] = {}
        for call in record.get("collectives") or []:
            key = (profile_op(call["op"]), tuple(call["ranks"]), call["bytes"])
            mine.setdefault(key, []).append(call["time"])
        per_rank[record["rank"]] = mine
    keys = sorted({k for mine in per_rank.values() for k in mine}, key=repr)
    for key in keys:
        members = [r for r in key[1] if r in per_rank]
        length = max((len(per_rank[r].get(key, [])) for r in members), default=0)
        queues[key] = [[t for r in members for t in per_rank[r].get(key, [])[i : i + 1]] for i in range(length)]
    used: dict[tuple, int] = {}
    rows = []
    for event in predicted:
        key = (profile_op(event.op), tuple(event.ranks), event.bytes)
        index = used.get(key, 0)
        times = queues.get(key, [])[index] if index < len(queues.get(key, [])) else None
        if times is not None:
            used[key] = index + 1
        rows.append(_row(event.op, key[1], key[2], event, times))
    for key in keys:
        for times in queues[key][used.get(key, 0) :]:
            rows.append(_row(key[0], key[1], key[2], None, times))
    return tuple(rows)


def _bandwidths(op: str, n: int, nbytes: int, seconds: float) -> tuple[float, float, float]:
    algbw = nbytes / seconds if seconds > 0 else 0.0
    return seconds, algbw, algbw * bus_factor(_base(op), n)


def _base(op: str) -> str:
    base = profile_op(op)
    return "all_reduce" if base == "barrier" else base


def _row(op: str, ranks: tuple[int, ...], nbytes: int, event: PredictedCollective | None,
         times: list[float] | None) -> CollectiveTiming:  # fmt: skip
    n = len(ranks)
    predicted = None
    if event is not None:
        predicted = TimedCall(*_bandwidths(op, n, nbytes, event.end - event.start), algorithm=event.algorithm)
    measured = None
    if times:
        measured = TimedCall(*_bandwidths(op, n, nbytes, min(times)), ranks_timed=len(times))
    return CollectiveTiming(op=op, ranks=ranks, bytes=nbytes, predicted=predicted, measured=measured)
