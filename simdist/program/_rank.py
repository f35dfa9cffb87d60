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

An operating system gives a process only so many threads (Linux: ``pid_max``, and two
memory maps per stack under ``vm.max_map_count``), so a very large world runs its ranks
as :class:`RankGreenlet` instead: coroutines on the kernel's own thread, each with its
own Python stack but sharing the C stack. They serve plain ``torch.distributed`` code
at tens of thousands of ranks; a collective called from inside C++ (DDP's reducer, its
parameter checks) is refused with a clear error there, since a greenlet cannot wait below
C++ frames (see ``collectives._process_group``).
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import greenlet

__all__ = ["RankGreenlet", "RankKilled", "RankThread", "Runaway", "Stopped", "Watchdog", "current_rank"]

# One rank's thread stack: deep enough for torch's autograd and a user's model, far below
# the default 8 MiB so that tens of thousands of ranks fit in virtual memory.
STACK_SIZE = 16 * 1024 * 1024 // 4


class RankKilled(BaseException):
    """Thrown into a rank whose worker was killed: unwinds its stack (``except Exception`` lets it pass)."""


class Stopped(BaseException):
    """A rank simdist stopped (it ran away); like a kill, it leaves no traceback."""


class _Runaway(Stopped):
    """Raised asynchronously in a rank thread that kept the baton past the wall-clock budget."""


@dataclass(frozen=True, slots=True)
class Runaway:
    """A rank that ran past the wall-clock budget without yielding; where it was."""

    seconds: float
    where: str  # "file.py:LINE in function"


_running: dict[Any, RankThread | RankGreenlet] = {}  # greenlet.getcurrent() -> rank (a thread's is its main one)


def current_rank() -> RankThread | RankGreenlet | None:
    """The rank running here (None on the kernel's own stack, or on any other thread)."""
    return _running.get(greenlet.getcurrent())


class RankThread:
    """One rank: ``body()`` runs on its own thread, taking turns with the kernel.

    ``resume(reply)`` (kernel side) runs the rank until it next yields; it returns what
    the rank asked for: ``("wait", event)`` to block on a kernel event, ``("done",
    value)`` when ``body`` returned, ``("raised", exc)`` when it raised, or
    ``("runaway", Runaway)`` when it kept the baton too long.
    """

    def __init__(self, body: Callable[[], Any], name: str, *, context: Any = None,
                 on_switch_in: Callable[[RankThread], None] | None = None,
                 on_switch_out: Callable[[RankThread], None] | None = None) -> None:  # fmt: skip
        self._body = body
        self.name = name
        self.context = context  # what the program layer keeps per rank (env, argv, streams, …)
        self._on_switch_in = on_switch_in
        self._on_switch_out = on_switch_out
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
        if self._on_switch_out is not None:
            self._on_switch_out(self)
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
        _running[greenlet.getcurrent()] = self
        try:
            self._switched_in()
            self._request = ("done", self._body())
        except _Runaway:
            self._request = ("runaway", None)
        except BaseException as exc:  # everything the rank raised is data for its worker's exit
            self._request = ("raised", exc)
        finally:
            if self._on_switch_out is not None:
                self._on_switch_out(self)
            self.finished = True
            _running.pop(greenlet.getcurrent(), None)
            self._back.release()


class Watchdog:
    """One thread that stops a greenlet rank running past its wall-clock budget.

    Greenlet ranks run on the kernel's thread, so the exception that stops a runaway is
    raised into that thread, while the rank (and only then) is running.
    """

    def __init__(self) -> None:
        self._target = threading.get_ident()
        self._deadline: float | None = None
        self._lock = threading.Lock()
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="simdist-watchdog", daemon=True)
        self._thread.start()

    def arm(self, seconds: float | None) -> None:
        with self._lock:
            self.fired = False
            self._deadline = None if seconds is None else time.perf_counter() + seconds

    def disarm(self) -> None:
        with self._lock:
            self._deadline = None

    def close(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                if self._deadline is not None and time.perf_counter() > self._deadline:
                    self._deadline = time.perf_counter() + 0.5  # again, should the rank swallow it
                    self.fired = True
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._target),
                                                               ctypes.py_object(_Runaway))  # fmt: skip


class RankGreenlet:
    """One rank as a greenlet on the kernel's thread: :class:`RankThread`'s interface, for huge worlds."""

    def __init__(self, body: Callable[[], Any], name: str, *, context: Any = None,
                 on_switch_in: Callable[[RankGreenlet], None] | None = None,
                 on_switch_out: Callable[[RankGreenlet], None] | None = None,
                 watchdog: Watchdog | None = None) -> None:  # fmt: skip
        self._body = body
        self.name = name
        self.context = context
        self._on_switch_in = on_switch_in
        self._on_switch_out = on_switch_out
        self._watchdog = watchdog
        self._glet: greenlet.greenlet | None = None
        self._reply: Any = None
        self.finished = False
        self.abandoned = False

    def resume(self, reply: Any = None, wall_timeout: float | None = None) -> tuple:
        if self.finished:
            raise RuntimeError(f"{self.name} has finished")
        self._reply = reply
        if self._glet is None:
            self._glet = greenlet.greenlet(self._main)
        started = time.perf_counter()
        if self._watchdog is not None:
            self._watchdog.arm(wall_timeout)
        try:
            request = self._glet.switch()
        except _Runaway:  # the watchdog fired just as the rank handed the baton back
            request = ("runaway", None)
        finally:
            if self._watchdog is not None:
                self._watchdog.disarm()
        if request[0] == "runaway":
            self.finished = True
            return ("runaway", Runaway(round(time.perf_counter() - started, 1) if wall_timeout is None else wall_timeout,
                                       self._where or "?"))  # fmt: skip
        return request

    def kill(self, wall_timeout: float | None = None) -> None:
        while not self.finished and self._glet is not None:
            if self.resume(RankKilled, wall_timeout)[0] == "runaway":
                return

    def yield_to_kernel(self, request: tuple) -> Any:
        if self._on_switch_out is not None:
            self._on_switch_out(self)
        assert self._glet is not None and self._glet.parent is not None
        self._glet.parent.switch(request)
        return self._switched_in()

    def _switched_in(self) -> Any:
        reply = self._reply
        if reply is RankKilled:
            raise RankKilled()
        if self._on_switch_in is not None:
            self._on_switch_in(self)
        return reply

    _where: str | None = None

    def _main(self) -> tuple:
        _running[greenlet.getcurrent()] = self
        try:
            self._switched_in()
            return ("done", self._body())
        except _Runaway as stop:
            self._where = _frame_where(stop.__traceback__)
            return ("runaway", None)
        except BaseException as exc:
            return ("raised", exc)
        finally:
            if self._on_switch_out is not None:
                self._on_switch_out(self)
            self.finished = True
            _running.pop(greenlet.getcurrent(), None)


THREADED_RANKS = 4096  # up to this many ranks, each runs on a thread of its own


def _frame_where(tb) -> str:
    """The innermost frame of a traceback outside simdist: the user's file and line."""
    last = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if "/simdist/" not in code.co_filename.replace("\\", "/"):
            last = f"{code.co_filename}:{tb.tb_lineno} in {code.co_name}"
        tb = tb.tb_next
    return last or "?"


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
