"""Each simulated rank on an OS thread of its own, running only while it holds the baton.

A rank needs its own C stack: DDP's reducer calls the process group from inside C++
autograd hooks, and pybind11 keeps per-thread state that must unwind in order, so ranks
cannot be coroutines switched inside C++ frames. A thread per rank gives each its stack;
the baton keeps the run single-threaded and deterministic: the kernel hands it to one
rank (:meth:`RankThread.resume`) and waits until that rank hands it back
(:meth:`RankThread.yield_to_kernel`), so exactly one thread runs at any moment and the
order is the kernel's, which is the seed's.

A rank that never hands the baton back (a busy loop that calls neither torch.distributed
nor ``time``) is stopped after ``wall_timeout`` real seconds: an exception is raised in
its thread, and it is named by file and line.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["RankKilled", "RankThread", "Runaway", "current_rank"]

# One rank's thread stack: deep enough for torch's autograd and a user's model, far below
# the default 8 MiB so that tens of thousands of ranks fit in virtual memory.
STACK_SIZE = 16 * 1024 * 1024 // 4


class RankKilled(BaseException):
    """Thrown into a rank whose worker was killed: unwinds its stack (``except Exception`` lets it pass)."""


class _Runaway(BaseException):
    """Raised asynchronously in a rank thread that kept the baton past the wall-clock budget."""


@dataclass(frozen=True, slots=True)
class Runaway:
    """A rank that ran past the wall-clock budget without yielding; where it was."""

    seconds: float
    where: str  # "file.py:LINE in function"


_by_thread: dict[int, RankThread] = {}


def current_rank() -> RankThread | None:
    """The rank running on this thread (None on the kernel's thread or any other)."""
    return _by_thread.get(threading.get_ident())


class RankThread:
    """One rank: ``body()`` runs on its own thread, taking turns with the kernel.

    ``resume(reply)`` (kernel side) runs the rank until it next yields; it returns what
    the rank asked for: ``("wait", event)`` to block on a kernel event, ``("done",
    value)`` when ``body`` returned, ``("raised", exc, traceback_lines)`` when it raised,
    or ``("runaway", Runaway)`` when it kept the baton too long.
    """

    def __init__(self, body: Callable[[], Any], name: str, *, context: Any = None,
                 on_switch_in: Callable[[RankThread], None] | None = None) -> None:  # fmt: skip
        self._body = body
        self.name = name
        self.context = context  # what the program layer keeps per rank (env, argv, streams, …)
        self._on_switch_in = on_switch_in
        self._go = threading.Semaphore(0)
        self._back = threading.Semaphore(0)
        self._reply: Any = None
        self._request: Any = None
        self._thread: threading.Thread | None = None
        self.finished = False
        self.abandoned = False  # a runaway that did not stop: left to die with the process

    # -- the kernel's side ------------------------------------------------------------------

    def resume(self, reply: Any = None, wall_timeout: float | None = None) -> tuple:
        """Hand the baton to the rank until it yields; return its request."""
        if self.finished:
            raise RuntimeError(f"{self.name} has finished")
        self._reply = reply
        if self._thread is None:
            previous = threading.stack_size(STACK_SIZE)
            try:
                self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
                self._thread.start()
            finally:
                threading.stack_size(previous)
        else:
            self._go.release()
        if self._back.acquire(timeout=wall_timeout):
            return self._request
        return self._stop_runaway(wall_timeout or 0.0)

    def kill(self, wall_timeout: float | None = None) -> None:
        """Unwind the rank's stack (its worker was killed); returns once its thread has ended."""
        while not self.finished and not self.abandoned and self._thread is not None:
            request = self.resume(RankKilled, wall_timeout)
            if request[0] == "runaway":
                return

    def _stop_runaway(self, seconds: float) -> tuple:
        where = _where(self._thread)
        if self._thread is not None and self._thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread.ident), ctypes.py_object(_Runaway))
        # Pure-Python loops see the exception within a few bytecodes; code stuck in C does not.
        if not self._back.acquire(timeout=max(1.0, min(seconds, 5.0))):
            self.abandoned = True
        self.finished = True
        return ("runaway", Runaway(seconds, where))

    # -- the rank's side -----------------------------------------------------------------------

    def yield_to_kernel(self, request: tuple) -> Any:
        """Give the baton back with ``request``; return the kernel's reply once resumed."""
        self._request = request
        self._back.release()
        self._go.acquire()
        return self._switched_in()

    def _switched_in(self) -> Any:
        reply = self._reply
        if reply is RankKilled:
            raise RankKilled()
        if self._on_switch_in is not None:
            self._on_switch_in(self)
        return reply

    def _main(self) -> None:
        _by_thread[threading.get_ident()] = self
        try:
            self._switched_in()
            self._request = ("done", self._body())
        except _Runaway:
            self._request = ("runaway", None)
        except BaseException as exc:  # everything the rank raised is data for its worker's exit
            self._request = ("raised", exc, traceback.format_exception(exc))
        finally:
            self.finished = True
            _by_thread.pop(threading.get_ident(), None)
            self._back.release()


def _where(thread: threading.Thread | None) -> str:
    """The innermost frame of ``thread`` outside simdist: the user's file and line."""
    if thread is None or thread.ident is None:
        return "?"
    frame = sys._current_frames().get(thread.ident)
    fallback = None
    while frame is not None:
        code = frame.f_code
        text = f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
        fallback = fallback or text
        if "/simdist/" not in code.co_filename.replace("\\", "/"):
            return text
        frame = frame.f_back
    return fallback or "?"
