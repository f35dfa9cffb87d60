"""One reading of a trace's events: what every agent and every worker slot was doing, when.

A trace records instants (``rdzv_start``, ``worker_spawn``, ``worker_exit`` …); a view of
the launch over time needs stretches. This module pairs the instants up once, so every
surface reads the same agent phases and worker lives instead of re-deriving them from
event kinds:

- an agent's lane: ``startup`` (agent_start → rdzv_start), ``rendezvous`` (one per round,
  until ranks_assigned), ``monitor`` (watching its workers), ``exit_barrier``; marks for
  a dead machine or a torchrun error, a group restart, and the agent's exit;
- a worker slot's lane (node, LOCAL_RANK), one life per spawn: ``spawn`` (worker_spawn →
  worker_start), ``init`` (→ process_group_ready), ``run`` (→ worker_exit); a failure
  mark where a worker was killed or exited non-zero; ``collective`` spans on the lane of
  each rank that took part.

A phase still open when the trace ends is closed at its last instant; a worker whose
machine dies (its agent ends) ends there too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._trace import Trace, TraceEvent

__all__ = ["AGENT_PHASES", "WORKER_PHASES", "Lane", "Mark", "Span", "launch_lanes", "trace_end"]

AGENT_PHASES = ("startup", "rendezvous", "monitor", "exit_barrier")
WORKER_PHASES = ("spawn", "init", "run")
_AGENT_ENDS = ("agent_exit", "agent_killed")


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of virtual time on a lane: an agent phase, a worker phase, or a collective."""

    start: float
    end: float
    phase: str  # one of AGENT_PHASES, WORKER_PHASES, or "collective"
    label: str = ""  # e.g. "round 1 → group rank 0", "RANK 2 · restart 1", "all_reduce"
    rank: int | None = None  # the worker's RANK (worker phases and collectives)
    attempt: int = 0  # the worker's restart attempt (worker phases)


@dataclass(frozen=True, slots=True)
class Mark:
    """An instant worth pointing at."""

    t: float
    kind: Literal["failure", "restart", "exit"]
    text: str  # "killed", "SIGTERM", "exit 1", "machine dies", "restart", "re-rendezvous", "exit 0" …
    code: int | None = None  # the exit code, where the mark is an exit

    @property
    def alarming(self) -> bool:
        """Something went wrong here: a failure, a restart, or a non-zero exit."""
        return self.kind != "exit" or self.code not in (0, None)


@dataclass(frozen=True, slots=True)
class Lane:
    """One agent (``local_rank`` None) or one worker slot of a machine, over the whole launch."""

    node: int  # the machine, as trace events name it
    local_rank: int | None
    spans: tuple[Span, ...] = ()  # as read: a collective when recorded, a life's phases when the life ends
    marks: tuple[Mark, ...] = ()  # in trace order
    host: str | None = None  # the machine's host (agent lanes)

    @property
    def agent(self) -> bool:
        return self.local_rank is None

    @property
    def troubled(self) -> bool:
        return any(mark.alarming for mark in self.marks)


def trace_end(trace: Trace) -> float:
    """The last instant of the launch: its last event (the verdict aside) or the end of a collective."""
    events = [e for e in trace.events if e.kind != "outcome"]
    end = max((e.t for e in events), default=0.0)
    for event in events:
        stop = event.detail.get("end")
        if event.kind == "collective" and isinstance(stop, (int, float)):
            end = max(end, float(stop))
    return end


def launch_lanes(trace: Trace) -> tuple[Lane, ...]:
    """Every machine's agent lane followed by its worker slots (by LOCAL_RANK), machines in order."""
    reader = _Reader()
    for event in trace.events:
        if event.kind != "outcome":
            reader.read(event)
    return reader.finish(trace_end(trace))


# -- reading events -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    spans: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


@dataclass(slots=True)
class _Life:
    """A worker between its spawn and its exit."""

    local: int
    spawn: float
    attempt: int
    start: float | None = None  # worker_start: init_process_group begins
    ready: float | None = None  # process_group_ready: the user's code runs


class _Reader:
    """Pairs events up in trace order; mutable while reading, frozen into lanes at the end."""

    def __init__(self) -> None:
        self.hosts: dict[int, str | None] = {}
        self.agents: dict[int, _Draft] = {}
        self.workers: dict[tuple[int, int], _Draft] = {}
        self.open: dict[int, tuple[float, str, str]] = {}  # node -> (since, phase, label)
        self.lives: dict[tuple[int, int], _Life] = {}  # (node, rank) -> the running worker
        self.local_of: dict[tuple[int, int], int] = {}  # (node, rank) -> its LOCAL_RANK there
        self.latest: dict[int, tuple[int, int]] = {}  # rank -> (node, local rank) of its latest spawn

    def agent(self, node: int) -> _Draft:
        return self.agents.setdefault(node, _Draft())

    def worker(self, node: int, local: int) -> _Draft:
        return self.workers.setdefault((node, local), _Draft())

    def close_phase(self, node: int, t: float) -> None:
        if node in self.open:
            since, phase, label = self.open.pop(node)
            if t > since:  # a phase that took no time has nothing to show
                self.agent(node).spans.append(Span(since, t, phase, label))

    def open_phase(self, node: int, t: float, phase: str, label: str = "") -> None:
        self.close_phase(node, t)
        self.open[node] = (t, phase, label)

    def in_phase(self, node: int, phase: str) -> bool:
        return node in self.open and self.open[node][1] == phase

    def relabel(self, node: int, label: str) -> None:
        since, phase, _ = self.open[node]
        self.open[node] = (since, phase, label)

    def end_life(self, node: int, rank: int, t: float, detail: Mapping[str, Any]) -> None:
        life = self.lives.pop((node, rank), None)
        if life is None:
            return
        lane = self.worker(node, life.local)
        times = [(p, s) for p, s in zip(WORKER_PHASES, (life.spawn, life.start, life.ready)) if s is not None]
        for (phase, since), until in zip(times, [s for _, s in times[1:]] + [t]):
            if until <= since:  # a phase that took no time has nothing to show
                continue
            label = ""
            if phase == "run":
                label = f"RANK {rank}" + (f" · restart {life.attempt}" if life.attempt else "")
            lane.spans.append(Span(since, until, phase, label, rank, life.attempt))
        code = detail.get("code")
        if code not in (0, None):
            lane.marks.append(Mark(t, "failure", str(detail.get("signal") or f"exit {code}"), code))

    def collective(self, event: TraceEvent) -> None:
        """A collective as a span on the lane of each rank that took part (where that rank runs now)."""
        d, node = event.detail, event.node
        start = float(d.get("start", event.t))
        stop = float(d.get("end", start))
        label = str(d.get("op") or "collective")
        for rank in [event.rank] if event.rank is not None else list(d.get("ranks") or []):
            where = (node, self.local_of[(node, rank)]) if (node, rank) in self.local_of else self.latest.get(rank)
            if where is not None:
                self.worker(*where).spans.append(Span(start, stop, "collective", label, rank))

    def read(self, event: TraceEvent) -> None:
        kind, t, node, rank, d = event.kind, event.t, event.node, event.rank, event.detail
        if kind == "collective":  # may name no node: one event for the whole group
            self.collective(event)
            return
        if node is None:
            return
        if kind == "machine":
            self.hosts[node] = d.get("host")
            self.agent(node)
        elif kind == "agent_start":
            self.open_phase(node, t, "startup")
        elif kind == "rdzv_start":
            attempt = d.get("attempt") or 0
            self.open_phase(node, t, "rendezvous", f"rdzv #{attempt}" if attempt else "rdzv")
        elif kind == "rdzv_join" and self.in_phase(node, "rendezvous"):
            self.relabel(node, f"round {d.get('round')}")
        elif kind == "ranks_assigned":
            group = d.get("group_rank")
            if self.in_phase(node, "rendezvous") and group is not None:
                self.relabel(node, f"{self.open[node][2]} → group rank {group}")
            self.open_phase(node, t, "monitor")
        elif kind == "worker_spawn" and rank is not None:
            local = d.get("local_rank", 0)
            self.local_of[(node, rank)] = local
            self.latest[rank] = (node, local)
            self.lives[(node, rank)] = _Life(local, t, d.get("attempt") or 0)
            self.worker(node, local)
        elif kind == "worker_start" and (node, rank) in self.lives:
            self.lives[(node, rank)].start = t
        elif kind == "process_group_ready" and (node, rank) in self.lives:
            self.lives[(node, rank)].ready = t
        elif kind == "worker_exit" and rank is not None:
            self.end_life(node, rank, t, d)
        elif kind == "worker_failure" and rank is not None:
            self.worker(node, self.local_of.get((node, rank), 0)).marks.append(Mark(t, "failure", "killed"))
        elif kind in ("node_failure", "agent_error"):
            text = "machine dies" if kind == "node_failure" else str(d.get("error") or "torchrun fails")
            self.agent(node).marks.append(Mark(t, "failure", text))
            self.close_phase(node, t)
        elif kind == "group_restart":
            self.close_phase(node, t)
            text = "restart" if d.get("reason") == "failed" else "re-rendezvous"
            self.agent(node).marks.append(Mark(t, "restart", text))
        elif kind in ("group_succeeded", "group_failed"):
            self.close_phase(node, t)
        elif kind == "exit_barrier":
            if not self.in_phase(node, "exit_barrier"):
                self.open_phase(node, t, "exit_barrier")
        elif kind in _AGENT_ENDS:
            self.close_phase(node, t)
            for n, r in [key for key in self.lives if key[0] == node]:  # workers die with their machine
                self.end_life(n, r, t, {"code": None})
            if kind == "agent_exit":
                code = d.get("code")
                self.agent(node).marks.append(Mark(t, "exit", f"exit {code}", code))

    def finish(self, end: float) -> tuple[Lane, ...]:
        for node in list(self.open):  # still going when the trace ends
            self.close_phase(node, end)
        for node, rank in list(self.lives):
            self.end_life(node, rank, end, {"code": None})
        lanes: list[Lane] = []
        for node in sorted(set(self.agents) | {n for n, _ in self.workers}):
            head = self.agent(node)
            lanes.append(Lane(node, None, tuple(head.spans), tuple(head.marks), self.hosts.get(node)))
            for local in sorted(local for n, local in self.workers if n == node):
                draft = self.workers[(node, local)]
                lanes.append(Lane(node, local, tuple(draft.spans), tuple(draft.marks)))
        return tuple(lanes)
