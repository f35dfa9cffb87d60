"""What a real worker process owns, given to each simulated rank: env, argv, __main__, streams, clock.

Real torchrun workers are separate processes. Here every rank is a thread of one
process, so whatever a process owns alone is routed to the rank that is running:

- ``os.environ`` (and ``os.getenv``, ``os.putenv``): each rank reads and writes its own
  copy, torchrun's variables + the user's environment + ``--env``;
- ``sys.argv`` and ``sys.modules["__main__"]``: the rank's, swapped in whenever it runs
  (only one rank runs at a time, so a swap is exact);
- ``sys.stdout`` and ``sys.stderr``: kept per rank, as torchrun's ``--tee`` would show them;
- ``time.sleep``, ``time.time``, ``time.monotonic``, ``time.perf_counter`` (and their
  ``_ns`` forms): the virtual clock;
- ``sys.exit``, ``os._exit``, ``os.kill(os.getpid(), …)``: end the rank, never simdist;
- ``os.fork`` and ``multiprocessing``: refused in one line (a simulated rank cannot start
  real processes; ``DataLoader(num_workers=0)`` works).

Outside rank threads everything behaves as usual. :class:`Sandbox` installs all of it
for the duration of one simulation and puts everything back afterwards.
"""

from __future__ import annotations

import io
import multiprocessing.process
import os
import sys
import time
import types
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ._rank import current_rank

__all__ = ["RankExit", "RankProcess", "Sandbox", "VIRTUAL_EPOCH"]

VIRTUAL_EPOCH = 1_767_225_600.0  # time.time() at virtual t=0: 2026-01-01 00:00:00 UTC (fixed: traces repeat)
FORK_REFUSAL = (
    "simdist: a simulated rank cannot start real processes ({what}); use DataLoader(num_workers=0) and no "
    "multiprocessing under simdist (real torchrun runs them: --real)"
)


class RankExit(BaseException):
    """The rank ended its process (``os._exit``, a signal to itself); ``code`` as torch would report it."""

    def __init__(self, code: int, how: str) -> None:
        super().__init__(code, how)
        self.code = code
        self.how = how


@dataclass
class RankProcess:
    """One rank's share of process state."""

    rank: int
    local_rank: int
    env: dict[str, str]
    argv: list[str]
    main: types.ModuleType | None = None
    stdout: list[str] = field(default_factory=list)  # what the rank wrote, in pieces
    stderr: list[str] = field(default_factory=list)
    sleep: Callable[[float], None] | None = None  # yields virtual time to the kernel
    now: Callable[[], float] | None = None  # the kernel's clock
    store: Any = None  # the in-memory store its rendezvous reaches
    runtime: Any = None  # its process groups' shared runtime, once it has joined a world
    excepthook: Any = None  # its sys.excepthook (torch's init_process_group installs a [rankN] one)

    def text(self, stream: str) -> str:
        return "".join(self.stdout if stream == "stdout" else self.stderr)


def _process() -> RankProcess | None:
    rank = current_rank()
    return None if rank is None else rank.context


class _Environ(MutableMapping):
    """``os.environ`` for everybody: the running rank's copy, or the real one elsewhere."""

    def __init__(self, real: MutableMapping[str, str]) -> None:
        self._real = real

    def _data(self) -> MutableMapping[str, str]:
        process = _process()
        return self._real if process is None else process.env

    def __getitem__(self, key: str) -> str:
        return self._data()[key]

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(value if isinstance(key, str) else key).__name__}")
        self._data()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data()))

    def __len__(self) -> int:
        return len(self._data())

    def copy(self) -> dict[str, str]:
        return dict(self._data())

    def __repr__(self) -> str:
        return f"environ({dict(self._data())!r})"


class _Stream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` for everybody: the running rank's buffer, or the real stream."""

    def __init__(self, real: Any, name: str) -> None:
        self._real = real
        self._name = name

    def _buffer(self) -> list[str] | None:
        process = _process()
        return None if process is None else getattr(process, self._name)

    def write(self, text: str) -> int:
        buffer = self._buffer()
        if buffer is None:
            return self._real.write(text)
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        buffer.append(text)
        return len(text)

    def flush(self) -> None:
        if self._buffer() is None:
            self._real.flush()

    def isatty(self) -> bool:
        return False if self._buffer() is not None else self._real.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self._real, "encoding", "utf-8") or "utf-8"

    def fileno(self) -> int:
        # The process's own descriptor, for code that needs one (faulthandler, as torch's @record
        # enables it): a crash dump there is the whole process's, as it would be for a worker.
        return self._real.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class Sandbox:
    """Routes process state to the running rank for the duration of a simulation (a context manager)."""

    def __init__(self) -> None:
        self._saved: dict[tuple[Any, str], Any] = {}
        self._argv: list[str] | None = None
        self._main: Any = None
        self._excepthook: Any = None

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._saved[(owner, name)] = getattr(owner, name)
        setattr(owner, name, value)

    def __enter__(self) -> Sandbox:
        self._argv, self._main, self._excepthook = sys.argv, sys.modules.get("__main__"), sys.excepthook
        self._patch(os, "environ", _Environ(os.environ))
        self._patch(sys, "stdout", _Stream(sys.stdout, "stdout"))
        self._patch(sys, "stderr", _Stream(sys.stderr, "stderr"))
        real = {name: getattr(time, name) for name in ("sleep", "time", "time_ns", "monotonic", "monotonic_ns",
                                                        "perf_counter", "perf_counter_ns")}  # fmt: skip
        self._patch(time, "sleep", _virtual_sleep(real["sleep"]))
        for name in ("time", "monotonic", "perf_counter"):
            offset = VIRTUAL_EPOCH if name == "time" else 0.0
            self._patch(time, name, _virtual_clock(real[name], offset))
            self._patch(time, f"{name}_ns", _virtual_clock_ns(real[f"{name}_ns"], offset))
        self._patch(os, "_exit", _rank_aware(os._exit, lambda code: _raise(RankExit(int(code), "os._exit"))))
        self._patch(os, "kill", _rank_aware(os.kill, _kill_self))
        if hasattr(os, "fork"):
            self._patch(os, "fork", _rank_aware(os.fork, lambda: _refuse("os.fork")))
        self._patch(multiprocessing.process.BaseProcess, "start",
                    _rank_aware(multiprocessing.process.BaseProcess.start, lambda self: _refuse(
                        "a multiprocessing process, e.g. DataLoader(num_workers>0)")))  # fmt: skip
        return self

    def __exit__(self, *exc_info: object) -> None:
        for (owner, name), value in reversed(list(self._saved.items())):
            setattr(owner, name, value)
        self._saved.clear()
        sys.argv = self._argv
        sys.excepthook = self._excepthook
        if self._main is not None:
            sys.modules["__main__"] = self._main

    def switch_in(self, process: RankProcess) -> None:
        """The rank is about to run: its argv, __main__ and excepthook become the process's."""
        sys.argv = process.argv
        sys.excepthook = process.excepthook if process.excepthook is not None else self._excepthook
        if process.main is not None:
            sys.modules["__main__"] = process.main

    def switch_out(self, process: RankProcess) -> None:
        """The rank hands the baton back: keep what it changed (it may assign sys.argv, or torch its hook)."""
        process.argv = sys.argv
        process.excepthook = sys.excepthook


def _raise(exc: BaseException) -> Any:
    raise exc


def _refuse(what: str) -> Any:
    raise RuntimeError(FORK_REFUSAL.format(what=what))


def _rank_aware(real: Callable, in_rank: Callable) -> Callable:
    def call(*args: Any, **kwargs: Any) -> Any:
        if current_rank() is None:
            return real(*args, **kwargs)
        return in_rank(*args, **kwargs)

    call.__wrapped__ = real  # type: ignore[attr-defined]
    return call


def _kill_self(pid: int, sig: int) -> None:
    if pid not in (0, os.getpid()):
        raise PermissionError(f"simdist: a simulated rank may not signal other processes (pid {pid})")
    import signal

    if sig == 0:
        return
    raise RankExit(-int(sig), f"signal {signal.Signals(sig).name}")


def _virtual_sleep(real: Callable[[float], None]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        process = _process()
        if process is None or process.sleep is None:
            return real(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        process.sleep(float(seconds))

    return sleep


def _virtual_clock(real: Callable[[], float], offset: float) -> Callable[[], float]:
    def clock() -> float:
        process = _process()
        if process is None or process.now is None:
            return real()
        return offset + process.now()

    return clock


def _virtual_clock_ns(real: Callable[[], int], offset: float) -> Callable[[], int]:
    def clock() -> int:
        process = _process()
        if process is None or process.now is None:
            return real()
        return int(round((offset + process.now()) * 1e9))

    return clock

