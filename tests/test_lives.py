"""The one reading of a trace's events (simdist/documents/_lives.py), on simulated traces.

Agent phases, worker lives, failure and restart marks, collectives: what the Gantt draws
and any other view of a launch over time reads. No matplotlib here.
"""

import simdist
from simdist import LaunchSpec, SimOptions
from simdist.documents import Trace, TraceEvent
from simdist.documents._lives import AGENT_PHASES, WORKER_PHASES, Lane, Mark, Span, launch_lanes, trace_end


def by_place(trace: Trace) -> dict[tuple[int, int | None], Lane]:
    return {(lane.node, lane.local_rank): lane for lane in launch_lanes(trace)}


def phases(lane: Lane) -> list[str]:
    return [span.phase for span in lane.spans if span.phase != "collective"]


def lives(lane: Lane) -> list[list[Span]]:
    """A worker slot's spans grouped by life (a life starts with its spawn)."""
    out: list[list[Span]] = []
    for span in lane.spans:
        if span.phase == "spawn":
            out.append([])
        if span.phase in WORKER_PHASES:
            out[-1].append(span)
    return out


def check_well_formed(trace: Trace) -> None:
    """What holds for every trace: known phases, no empty or reversed span, nothing after the end."""
    end = trace_end(trace)
    for lane in launch_lanes(trace):
        allowed = AGENT_PHASES if lane.agent else (*WORKER_PHASES, "collective")
        for span in lane.spans:
            assert span.phase in allowed, (lane, span)
            # A phase that took no time is left out; a collective may be an instant.
            assert span.start < span.end or span.phase == "collective" and span.start <= span.end, (lane, span)
            assert span.end <= end + 1e-9, (lane, span)
        # An agent is in one phase at a time: its spans follow each other.
        if lane.agent:
            assert all(a.end <= b.start + 1e-9 for a, b in zip(lane.spans, lane.spans[1:])), lane
        for mark in lane.marks:
            assert mark.t <= end + 1e-9


def test_a_clean_launch_has_an_agent_lane_per_machine_then_its_workers():
    trace = simdist.simulate(LaunchSpec(nnodes=2, nproc_per_node=2, master_port=29500), start_times=[0, 0])
    lanes = launch_lanes(trace)
    assert [(lane.node, lane.local_rank) for lane in lanes] == [(0, None), (0, 0), (0, 1), (1, None), (1, 0), (1, 1)]
    assert [lane.host for lane in lanes if lane.agent] == ["127.0.0.1", "127.0.0.1"]
    assert [lane.host for lane in lanes if not lane.agent] == [None] * 4
    for agent in (lane for lane in lanes if lane.agent):
        assert phases(agent)[0] == "startup" and "monitor" in phases(agent)
        assert agent.marks == (Mark(trace_end(trace), "exit", "exit 0", 0),)
    runs = sorted((span.rank, span.label) for lane in lanes for span in lane.spans if span.phase == "run")
    assert runs == [(r, f"RANK {r}") for r in range(4)]
    assert not any(lane.troubled for lane in lanes)
    check_well_formed(trace)


def test_a_restart_gives_the_failed_slot_a_second_life_with_its_attempt():
    trace = simdist.simulate(LaunchSpec(nnodes=2, nproc_per_node=2, master_port=29500, max_restarts=1),
                             start_times=[0, 0], failures=["1:0@2.5"], options=SimOptions(work=5))  # fmt: skip
    assert trace.outcome == "ok", trace.diagnosis
    lanes = by_place(trace)
    killed = lanes[(1, 0)]
    first, second = lives(killed)
    assert [s.phase for s in first] == ["spawn", "run"] and first[-1].end == 2.5
    assert {s.attempt for s in first} == {0} and {s.attempt for s in second} == {1}
    assert second[-1].label == "RANK 2 · restart 1" and second[0].start >= 2.5
    assert [m.text for m in killed.marks] == ["killed", "SIGKILL"] and killed.troubled
    assert [m.text for m in lanes[(1, 1)].marks] == ["SIGTERM"]  # its sibling is stopped for the restart
    agent = lanes[(1, None)]
    assert [(m.kind, m.text) for m in agent.marks] == [("restart", "restart"), ("exit", "exit 0")]
    assert abs(agent.marks[0].t - 2.5) < 1e-9
    # The other machine kept running: one life per slot, nothing marked.
    assert [len(lives(lanes[(0, local)])) for local in (0, 1)] == [1, 1]
    assert not lanes[(0, None)].troubled and not lanes[(0, 0)].troubled
    check_well_formed(trace)


def test_a_dead_machine_ends_its_agent_and_its_workers_there():
    trace = simdist.simulate(LaunchSpec(nnodes=2, nproc_per_node=2, master_port=29500), start_times=[0, 0],
                             failures=["1@2.5"])  # fmt: skip
    assert trace.outcome == "worker_failed"
    lanes = by_place(trace)
    agent = lanes[(1, None)]
    assert [(m.kind, m.text) for m in agent.marks] == [("failure", "machine dies")] and agent.troubled
    assert max(span.end for span in agent.spans) == 2.5  # no phase goes on after the machine is gone
    for local in (0, 1):
        worker = lanes[(1, local)]
        assert max(span.end for span in worker.spans) == 2.5
        assert [(m.text, m.code) for m in worker.marks] == [("SIGKILL", -9)]
    assert not lanes[(0, None)].troubled  # the survivor's agent exits 0
    check_well_formed(trace)


def test_a_c10d_job_has_labelled_rendezvous_rounds():
    spec = LaunchSpec(nnodes=2, nproc_per_node=2, rdzv_backend="c10d", rdzv_endpoint="10.0.0.1:29400",
                      hosts=["10.0.0.1", "10.0.0.2"])  # fmt: skip
    trace = simdist.simulate(spec, start_times=[0, 2])
    lanes = by_place(trace)
    assert [lanes[(n, None)].host for n in (0, 1)] == ["10.0.0.1", "10.0.0.2"]
    rounds = {n: [s for s in lanes[(n, None)].spans if s.phase == "rendezvous"] for n in (0, 1)}
    assert [s.label for s in rounds[0]] == ["round 0 → group rank 0"]
    assert [s.label for s in rounds[1]] == ["round 0 → group rank 1"]
    # The early machine waits in the round until the late one joins; both leave it together.
    assert rounds[0][0].start < rounds[1][0].start and rounds[0][0].end == rounds[1][0].end
    assert phases(lanes[(0, None)]) == ["startup", "rendezvous", "monitor"]
    spawn = min(s.start for s in lanes[(0, 0)].spans)
    assert spawn == rounds[0][0].end  # workers start when the ranks are assigned
    check_well_formed(trace)


def test_a_c10d_restart_counts_attempts_only_where_workers_failed():
    spec = LaunchSpec(nnodes=2, nproc_per_node=2, rdzv_backend="c10d", rdzv_endpoint="10.0.0.1:29400",
                      hosts=["10.0.0.1", "10.0.0.2"], max_restarts=1)  # fmt: skip
    trace = simdist.simulate(spec, start_times=[0, 0], failures=["1:0@4.5"], options=SimOptions(work=5))
    assert trace.outcome == "ok", trace.diagnosis
    lanes = by_place(trace)
    # The failed machine restarts; the other one re-joins a new round without counting a restart.
    assert [m.text for m in lanes[(1, None)].marks if m.kind == "restart"] == ["restart"]
    assert [m.text for m in lanes[(0, None)].marks if m.kind == "restart"] == ["re-rendezvous"]
    assert [s.label for s in lanes[(0, None)].spans if s.phase == "rendezvous"] == [
        "round 0 → group rank 0", "round 1 → group rank 0"]
    assert [life[-1].label for life in lives(lanes[(1, 0)])] == ["RANK 2", "RANK 2 · restart 1"]
    assert [life[-1].attempt for life in lives(lanes[(0, 0)])] == [0, 0]
    check_well_formed(trace)


def test_collectives_are_spans_on_the_lanes_of_the_ranks_that_took_part():
    trace = simdist.simulate(LaunchSpec(nnodes=1, nproc_per_node=2, master_port=29500), start_times=[0],
                             scenario="allreduce")  # fmt: skip
    calls = trace.of_kind("collective")
    assert calls
    for local in (0, 1):
        lane = by_place(trace)[(0, local)]
        mine = [s for s in lane.spans if s.phase == "collective"]
        assert [(s.label, s.rank) for s in mine] == [(e.detail["op"], local) for e in calls]
        run = next(s for s in lane.spans if s.phase == "run")
        assert all(run.start <= s.start and s.end <= run.end + 1e-6 for s in mine)
    assert trace_end(trace) >= max(e.detail["end"] for e in calls)


def test_what_is_still_going_when_the_trace_ends_is_closed_there():
    events = (
        TraceEvent(0.0, "machine", 0, detail={"host": "vm0"}),
        TraceEvent(0.0, "agent_start", 0),
        TraceEvent(1.0, "rdzv_start", 0, detail={"attempt": 0}),
        TraceEvent(1.5, "ranks_assigned", 0, detail={"group_rank": 0}),
        TraceEvent(1.5, "worker_spawn", 0, 0, {"local_rank": 0, "attempt": 0}),
        TraceEvent(2.0, "worker_start", 0, 0),
        TraceEvent(2.5, "process_group_ready", 0, 0),
        TraceEvent(2.6, "collective", None, None, {"op": "barrier", "ranks": [0], "start": 2.6, "end": 4.0}),
        TraceEvent(9.0, "outcome", None, detail={"outcome": "deadlock"}),  # the verdict is no moment of the launch
    )
    trace = Trace(seed=0, launch={}, events=events, plan=None, results=(), outcome="deadlock", diagnosis="")
    assert trace_end(trace) == 4.0  # the collective's end, not the verdict's time
    agent, worker = launch_lanes(trace)
    assert (agent.host, [(s.phase, s.start, s.end, s.label) for s in agent.spans]) == (
        "vm0", [("startup", 0.0, 1.0, ""), ("rendezvous", 1.0, 1.5, "rdzv → group rank 0"), ("monitor", 1.5, 4.0, "")])
    assert [(s.phase, s.start, s.end) for s in worker.spans] == [
        ("collective", 2.6, 4.0), ("spawn", 1.5, 2.0), ("init", 2.0, 2.5), ("run", 2.5, 4.0)]
    assert worker.marks == () and agent.marks == ()  # ended by the trace, not by a failure
