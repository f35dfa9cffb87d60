"""A simulated c10d TCPStore: keys, blocking waits with timeouts, and a host that can die.

torchrun's agents do their rank bookkeeping through such a store (``role_info/<g>``,
``assigned_ranks/<g>``), so the simulator does too, with the same keys. Errors carry
torch's exception names and messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import StoreError
from ._kernel import Event, Kernel

__all__ = ["SimStore"]


class SimStore:
    """The store a node hosts at ``addr:port``; waiters fail if it goes away."""

    def __init__(self, kernel: Kernel, host: int, addr: str, port: int | None) -> None:
        self.kernel = kernel
        self.host = host  # machine index of the node whose agent hosts it
        self.addr = addr
        self.port = port
        self.alive = True
        self.data: dict[str, object] = {}
        self._waiters: dict[str, list[tuple[tuple[str, ...], Event]]] = {}  # by the first missing key
        self.up = kernel.event()  # fires when the server is listening
        self.incarnation = 0  # which store this is, when one host starts several over time

    def start(self) -> None:
        if not self.up.triggered:
            self.up.succeed()

    def set(self, key: str, value: object) -> None:
        self.data[key] = value
        for keys, event in self._waiters.pop(key, ()):
            if not event.triggered:
                self._park(keys, event)

    def _park(self, keys: tuple[str, ...], event: Event) -> None:
        """Fire the waiter if all its keys exist, else file it under the first missing key."""
        missing = next((k for k in keys if k not in self.data), None)
        if missing is None:
            event.succeed([self.data[k] for k in keys])
        else:
            self._waiters.setdefault(missing, []).append((keys, event))

    def add(self, key: str, amount: int) -> int:
        value = int(self.data.get(key, 0)) + amount  # type: ignore[arg-type]
        self.set(key, value)
        return value

    def wait(self, keys: Sequence[str], timeout: float) -> Event:
        """An event with the keys' values once all are set; fails after ``timeout`` s."""
        keys = tuple(keys)
        event = self.kernel.event()
        if not self.alive:
            event.fail(StoreError("DistNetworkError", "Connection reset by peer"))
            return event
        if all(k in self.data for k in keys):
            return event.succeed([self.data[k] for k in keys])
        self._park(keys, event)
        timer = self.kernel.timeout(timeout)
        timer.callbacks.append(lambda _: self._expire(keys, event, timeout))
        event.callbacks.append(lambda _: timer.cancel())
        return event

    def _expire(self, keys: tuple[str, ...], event: Event, timeout: float) -> None:
        if not event.triggered:
            shown = ", ".join(f"/{k}" for k in keys)  # torch lists every key it waited for
            event.fail(StoreError("DistStoreError", f"wait timeout after {int(timeout * 1000)}ms, keys: {shown}"))

    def shutdown(self) -> None:
        """The host died: everyone blocked on the store sees the connection drop."""
        self.alive = False
        for waiters in self._waiters.values():
            for _, event in waiters:
                if not event.triggered:
                    event.fail(StoreError("DistNetworkError", "Connection reset by peer"))
        self._waiters = {}
