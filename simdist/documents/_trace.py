"""Trace: what happened in a simulated launch, in order — the one data contract.

A trace is plain data (``simdist.trace/1``): events with virtual times, the plan the
rendezvous decided, per-rank results, the outcome and a diagnosis. The same seed
and inputs give a byte-identical :meth:`Trace.to_json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["OUTCOMES", "Trace", "TraceEvent", "TraceRecorder"]

TRACE_SCHEMA = "simdist.trace/1"
Outcome = Literal["ok", "rendezvous_timeout", "collective_mismatch", "deadlock", "worker_failed"]
OUTCOMES: tuple[str, ...] = ("ok", "rendezvous_timeout", "collective_mismatch", "deadlock", "worker_failed")


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One thing that happened: when (virtual seconds), what, where, and the details."""

    t: float
    kind: str
    node: int | None = None
    rank: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 9), "kind": self.kind, "node": self.node, "rank": self.rank, "detail": self.detail}


class TraceRecorder:
    """Collects events in the order they happen; the kernel's clock stamps them."""

    def __init__(self, clock) -> None:
        self._clock = clock
        self.events: list[TraceEvent] = []

    def record(self, kind: str, node: int | None = None, rank: int | None = None, **detail: Any) -> TraceEvent:
        event = TraceEvent(self._clock(), kind, node, rank, detail)
        self.events.append(event)
        return event


@dataclass(slots=True)
class Trace:
    """A finished simulation."""

    seed: int
    launch: dict[str, Any]
    events: list[TraceEvent]
    plan: dict[str, Any] | None
    results: list[dict[str, Any]]
    outcome: Outcome
    diagnosis: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def of_kind(self, *kinds: str) -> list[TraceEvent]:
        return [e for e in self.events if e.kind in kinds]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": TRACE_SCHEMA,
            "seed": self.seed,
            "launch": self.launch,
            "events": [e.to_dict() for e in self.events],
            "plan": self.plan,
            "results": self.results,
            "outcome": self.outcome,
            "diagnosis": self.diagnosis,
            **self.extra,
        }

    def to_json(self, indent: int | None = 2) -> str:
        # No dict is iterated unsorted where order could vary: events are recorded in
        # kernel order and every detail dict is built in a fixed key order.
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
