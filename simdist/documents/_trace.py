"""Trace: what happened in a simulated launch, in order (``simdist.trace/1``), typed.

A trace is plain data: events with virtual times, the plan the rendezvous decided
(with the environment each worker really received), per-rank results, the outcome and
a diagnosis. The same seed and inputs give a byte-identical :meth:`Trace.to_json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import ConfigError
from ._cost import CostModelSummary
from ._plan import PlanDocument
from ._validate import check_keys, check_list

__all__ = ["OUTCOMES", "TRACE_SCHEMA", "RankResult", "Trace", "TraceEvent", "TraceRecorder", "WorkerOutput"]

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
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 9), "kind": self.kind, "node": self.node, "rank": self.rank, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TraceEvent:
        detail = data.get("detail")
        return cls(float(data["t"]), str(data["kind"]), data.get("node"), data.get("rank"),
                   dict(detail) if isinstance(detail, Mapping) else {})  # fmt: skip


class TraceRecorder:
    """Collects events in the order they happen; the kernel's clock stamps them."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.events: list[TraceEvent] = []

    def record(self, kind: str, node: int | None = None, rank: int | None = None, **detail: Any) -> TraceEvent:
        event = TraceEvent(self._clock(), kind, node, rank, detail)
        self.events.append(event)
        return event


@dataclass(frozen=True, slots=True)
class RankResult:
    """The last attempt of one rank: how it ended and what its program returned."""

    rank: int
    node: int
    local_rank: int
    attempt: int
    exit_code: int | None
    error: str | None = None  # "Kind: message" when the worker raised
    result: Any = None  # the program's return value, as plain JSON data

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "node": self.node, "local_rank": self.local_rank, "attempt": self.attempt,
                "exit_code": self.exit_code, "error": self.error, "result": self.result}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankResult:
        return cls(data["rank"], data.get("node", 0), data.get("local_rank", 0), data.get("attempt", 0),
                   data.get("exit_code"), data.get("error"), data.get("result"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class WorkerOutput:
    """What one worker (one attempt of one rank) printed, as torchrun's ``--tee`` would show it."""

    node: int
    rank: int
    local_rank: int
    attempt: int
    stdout: str = ""
    stderr: str = ""
    role: str = "default"

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "rank": self.rank, "local_rank": self.local_rank, "attempt": self.attempt,
                "role": self.role, "stdout": self.stdout, "stderr": self.stderr}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerOutput:
        return cls(data.get("node", 0), data.get("rank", 0), data.get("local_rank", 0), data.get("attempt", 0),
                   str(data.get("stdout") or ""), str(data.get("stderr") or ""), str(data.get("role") or "default"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Trace:
    """A finished simulation."""

    seed: int
    launch: Mapping[str, Any]
    events: tuple[TraceEvent, ...]
    plan: PlanDocument | None
    results: tuple[RankResult, ...]
    outcome: Outcome
    diagnosis: str
    machines: tuple[Mapping[str, Any], ...] = ()  # each machine: node, node_rank, host, pid, start (None: never)
    scenario: Mapping[str, Any] | None = None  # what ran on the ranks, when a scenario or script did
    output: tuple[WorkerOutput, ...] = ()  # what workers printed, every attempt, in start order
    cost_model: CostModelSummary | None = None  # which numbers timed the collectives, when a program ran

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def of_kind(self, *kinds: str) -> list[TraceEvent]:
        return [e for e in self.events if e.kind in kinds]

    def result_of(self, rank: int) -> RankResult:
        for result in self.results:
            if result.rank == rank:
                return result
        raise KeyError(f"RANK {rank} never ran")

    def to_dict(self) -> dict[str, Any]:
        data = {
            "schema": TRACE_SCHEMA,
            "seed": self.seed,
            "launch": dict(self.launch),
            "events": [e.to_dict() for e in self.events],
            "plan": None if self.plan is None else self.plan.to_dict(),
            "results": [r.to_dict() for r in self.results],
            "outcome": self.outcome,
            "diagnosis": self.diagnosis,
            "machines": [_finite(dict(m)) for m in self.machines],
        }
        if self.scenario is not None:
            data["scenario"] = dict(self.scenario)
        if self.cost_model is not None:
            data["cost_model"] = self.cost_model.to_dict()
        if self.output:
            data["output"] = [o.to_dict() for o in self.output]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        # No dict is iterated unsorted where order could vary: events are recorded in
        # kernel order and every detail dict is built in a fixed key order.
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: object, where: str = "input") -> Trace:
        """Read a trace; a missing or malformed part is a one-line ConfigError naming ``where``."""
        check_keys(data, ("events",), where, TRACE_SCHEMA)
        assert isinstance(data, Mapping)
        events = check_list(data, "events", where, TRACE_SCHEMA)
        for event in events:
            check_keys(event, ("t", "kind"), where, TRACE_SCHEMA, "an event")
            if not isinstance(event["t"], (int, float)) or isinstance(event["t"], bool) or not math.isfinite(event["t"]):
                raise ConfigError(f"{where}: malformed {TRACE_SCHEMA} document: an event's 't' is not a finite number")
        plan = data.get("plan")
        results = data.get("results") or []
        outcome = data.get("outcome", "ok")
        return cls(
            seed=data.get("seed", 0),
            launch=dict(data.get("launch") or {}),
            events=tuple(TraceEvent.from_dict(e) for e in events),
            plan=None if plan is None else PlanDocument.from_dict(plan, where, f"{TRACE_SCHEMA} plan"),
            results=tuple(RankResult.from_dict(r) for r in results if isinstance(r, Mapping) and "rank" in r),
            outcome=outcome if outcome in OUTCOMES else "ok",
            diagnosis=str(data.get("diagnosis", "")),
            machines=tuple(m for m in data.get("machines") or () if isinstance(m, Mapping)),
            scenario=data.get("scenario"),
            output=tuple(WorkerOutput.from_dict(o) for o in data.get("output") or () if isinstance(o, Mapping)),
            cost_model=CostModelSummary.from_dict(data.get("cost_model")),
        )


def _finite(machine: dict[str, Any]) -> dict[str, Any]:
    """A machine that never starts has start ``inf`` in the simulator and ``null`` in JSON."""
    start = machine.get("start")
    if isinstance(start, float) and not math.isfinite(start):
        machine["start"] = None
    return machine

