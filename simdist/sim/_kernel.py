"""A small, deterministic discrete-event kernel (SimPy-sized, SimPy-shaped).

Processes are generators that ``yield`` events and are resumed when those events
fire. The clock is virtual; the only randomness is one ``random.Random(seed)``.
Events at the same time run by priority, then by a tie key, then FIFO. The tie
key is 0 for ordinary events; :meth:`Kernel.schedule` with ``shuffle=True`` draws it
from the seed instead, which is how the simulator lets Hypothesis explore the
orders in which simultaneous ranks run. This module knows nothing of torch.

SimPy's contract holds: :meth:`Kernel.step` with nothing scheduled raises
:class:`EmptySchedule`, and a failed event that nobody handled is raised again from
:meth:`Kernel.step` rather than dropped. An event is handled when a process received
its exception, an :class:`AnyOf` passed it on, every waiter abandoned it (a process
interrupted while waiting, an :class:`AnyOf` another event decided), or someone called
:meth:`Event.defuse`.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Generator, Iterable
from typing import Any

from .._errors import EmptySchedule, SimulationError

__all__ = ["NORMAL", "URGENT", "AnyOf", "EmptySchedule", "Event", "Interrupt", "Kernel", "Process", "Timeout"]

URGENT = 0  # runs before NORMAL events at the same time (process start-up, interrupts)
NORMAL = 1

_PENDING = object()


class Interrupt(Exception):
    """Thrown into a process by :meth:`Process.interrupt`; ``cause`` says why."""

    def __init__(self, cause: object = None) -> None:
        super().__init__(cause)
        self.cause = cause


class Event:
    """Something that happens at one point of virtual time, carrying a value or an error."""

    __slots__ = ("callbacks", "kernel", "_ok", "_value", "cancelled", "defused")

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.callbacks: list[Callable[[Event], None]] | None = []
        self._value: Any = _PENDING
        self._ok = True
        self.cancelled = False
        self.defused = False  # a failure someone handled; an unhandled one is raised by Kernel.step

    def defuse(self) -> None:
        """Mark this event's failure as handled (a callback that deals with it calls this)."""
        self.defused = True

    def cancel(self) -> None:
        """Drop a scheduled event: it will not fire, nor move the clock."""
        self.cancelled = True

    @property
    def triggered(self) -> bool:
        return self._value is not _PENDING

    @property
    def processed(self) -> bool:
        return self.callbacks is None

    @property
    def ok(self) -> bool:
        return self._ok

    @property
    def value(self) -> Any:
        if self._value is _PENDING:
            raise AttributeError("the event has not happened yet")
        return self._value

    def succeed(self, value: Any = None, priority: int = URGENT) -> Event:
        if self._value is not _PENDING:
            raise RuntimeError(f"{self!r} has already been triggered")
        self._ok, self._value = True, value
        self.kernel.schedule(self, priority=priority)
        return self

    def fail(self, exception: BaseException, priority: int = URGENT) -> Event:
        if self._value is not _PENDING:
            raise RuntimeError(f"{self!r} has already been triggered")
        self._ok, self._value = False, exception
        self.kernel.schedule(self, priority=priority)
        return self


class Timeout(Event):
    """An event that fires ``delay`` seconds from now."""

    __slots__ = ("delay",)

    def __init__(self, kernel: Kernel, delay: float, value: Any = None, *, shuffle: bool = False) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        super().__init__(kernel)
        self.delay = delay
        self._value = value
        kernel.schedule(self, NORMAL, delay, shuffle=shuffle)


class Process(Event):
    """Runs a generator; the process is itself an event that fires when it returns."""

    __slots__ = ("_generator", "_target", "name")

    def __init__(self, kernel: Kernel, generator: Generator[Event, Any, Any], name: str = "") -> None:
        super().__init__(kernel)
        self._generator = generator
        self.name = name
        self._target: Event | None = None
        start = Event(kernel)
        start.callbacks.append(self._resume)
        start.succeed()  # URGENT: a new process starts before anything else at this time

    @property
    def is_alive(self) -> bool:
        return self._value is _PENDING

    def interrupt(self, cause: object = None) -> None:
        """Throw :class:`Interrupt` into the process at the current time."""
        if not self.is_alive:
            return
        event = Event(self.kernel)
        event._ok, event._value = False, Interrupt(cause)
        event.defused = True  # delivered to this process, or moot if it has ended meanwhile
        event.callbacks.append(self._resume)
        self.kernel.schedule(event, URGENT)

    def _resume(self, event: Event) -> None:
        if not self.is_alive:
            return
        if self._target is not None and event is not self._target:
            # An interrupt: stop listening to what we were waiting for. Its failure, should
            # it fail later, has nobody left to reach: abandoning it is handling it.
            if self._target.callbacks is not None:
                self._target.callbacks.remove(self._resume)
                self._target.defused = True
        self._target = None
        while True:
            try:
                if event._ok:
                    next_event = self._generator.send(event._value)
                else:
                    event.defused = True  # the process receives the exception: it is handled there
                    next_event = self._generator.throw(event._value)
            except StopIteration as stop:
                self._ok, self._value = True, stop.value
                self.kernel.schedule(self, URGENT)
                return
            except BaseException as exc:
                self._ok, self._value = False, exc
                self.kernel.schedule(self, URGENT)
                return
            if not isinstance(next_event, Event):
                raise TypeError(f"process {self.name!r} yielded {next_event!r}, not an Event")
            if next_event.callbacks is None:  # already processed: continue at once
                event = next_event
                continue
            next_event.callbacks.append(self._resume)
            self._target = next_event
            return


class AnyOf(Event):
    """Fires when the first of ``events`` fires; its value is that event."""

    __slots__ = ("_events",)

    def __init__(self, kernel: Kernel, events: Iterable[Event]) -> None:
        super().__init__(kernel)
        self._events = list(events)
        for event in self._events:
            if event.callbacks is None:
                self._done(event)
                break
            event.callbacks.append(self._done)

    def _done(self, event: Event) -> None:
        if self._value is not _PENDING:
            return
        for other in self._events:
            if other.callbacks is not None and self._done in other.callbacks:
                other.callbacks.remove(self._done)
                other.defused = True  # abandoned: the first event decided
        if event._ok:
            self.succeed(event)
        else:
            event.defused = True  # passed on: whoever waits for the AnyOf handles it
            self.fail(event._value)


class Kernel:
    """The event loop: a heap keyed ``(time, priority, tie, seq)`` and one seeded RNG."""

    def __init__(self, seed: int = 0) -> None:
        self.now = 0.0
        self.seed = seed
        self.rng = random.Random(seed)
        self._queue: list[tuple[float, int, float, int, Event]] = []
        self._seq = itertools.count()

    # -- building blocks -------------------------------------------------------------

    def event(self) -> Event:
        return Event(self)

    def timeout(self, delay: float, value: Any = None, *, shuffle: bool = False) -> Timeout:
        return Timeout(self, delay, value, shuffle=shuffle)

    def process(self, generator: Generator[Event, Any, Any], name: str = "") -> Process:
        return Process(self, generator, name)

    def any_of(self, events: Iterable[Event]) -> AnyOf:
        return AnyOf(self, events)

    def schedule(self, event: Event, priority: int = NORMAL, delay: float = 0.0, *, shuffle: bool = False) -> None:
        # ties at the same (time, priority) run FIFO, unless shuffled by the seed
        tie = self.rng.random() if shuffle else 0.0
        heapq.heappush(self._queue, (self.now + delay, priority, tie, next(self._seq), event))

    # -- running -----------------------------------------------------------------------

    def peek(self) -> float:
        """Time of the next event (``inf`` when nothing is scheduled)."""
        self._drop_cancelled()
        return self._queue[0][0] if self._queue else float("inf")

    def _drop_cancelled(self) -> None:
        while self._queue and self._queue[0][4].cancelled:
            heapq.heappop(self._queue)

    def step(self) -> None:
        """Process the next event; :class:`EmptySchedule` if there is none."""
        self._drop_cancelled()
        if not self._queue:
            raise EmptySchedule("no event is scheduled: nothing can happen any more")
        self.now, _, _, _, event = heapq.heappop(self._queue)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not event.defused:
            raise event._value  # a failure nobody handled: a bug, never silent

    def run(self, until: float | Event | None = None, *, max_steps: int | None = None) -> None:
        """Process events until ``until``.

        ``None``: until nothing is scheduled. A number: every event scheduled at or
        before that time, then the clock stands at ``until``. An :class:`Event`: until
        that event has been processed (its value is then available); if the schedule
        runs dry first, :class:`EmptySchedule` says so. ``max_steps`` bounds the work:
        past it, :class:`SimulationError`.
        """
        steps = 0
        if isinstance(until, Event):
            while until.callbacks is not None:
                self.step()  # raises EmptySchedule when nothing is left to process
                steps += 1
                if max_steps is not None and steps > max_steps:
                    raise SimulationError(f"more than {max_steps} events were processed")
            return
        limit = float("inf") if until is None else float(until)
        if limit < self.now:
            raise ValueError(f"until ({limit}) is before the current time ({self.now})")
        while (next_time := self.peek()) <= limit and next_time != float("inf"):  # inf: never
            self.step()
            steps += 1
            if max_steps is not None and steps > max_steps:
                raise SimulationError(f"more than {max_steps} events were processed")
        if limit != float("inf"):
            self.now = limit
