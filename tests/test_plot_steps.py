"""Collective step diagrams from hand-made traces that follow the simdist.trace/1 collectives contract."""

import pytest

pytest.importorskip("matplotlib")

import simdist.plot  # noqa: E402
from simdist import ConfigError  # noqa: E402


def ring_events(n: int, seq: int = 0, t: float = 1.0) -> list[dict]:
    """A ring all-reduce as the simulator records it: reduce-scatter step s sends chunk (r − s) mod n
    to r + 1, all-gather step s sends chunk (r + 1 − s) mod n; 2(n − 1) steps."""
    steps = 2 * (n - 1)
    events = [{"t": t, "kind": "collective", "node": None, "rank": None, "detail": {
        "op": "all_reduce", "seq": seq, "group": "world", "ranks": list(range(n)), "algorithm": "ring",
        "bytes": 1024 * n, "start": t, "end": t + steps, "algbw": 1.0, "busbw": 1.0}}]
    for s in range(steps):
        reduce = s < n - 1
        k = s if reduce else s - (n - 1)
        transfers = [{"src": r, "dst": (r + 1) % n, "chunk": (r - k) % n if reduce else (r + 1 - k) % n,
                      "bytes": 1024} for r in range(n)]
        events.append({"t": t + s, "kind": "collective_step", "node": None, "rank": None, "detail": {
            "op": "all_reduce", "seq": seq, "group": "world", "algorithm": "ring", "step": s, "steps": steps,
            "phase": "reduce_scatter" if reduce else "all_gather", "reduce": reduce, "transfers": transfers,
            "start": t + s, "end": t + s + 1}})
    return events


def trace(events: list[dict]) -> dict:
    return {"schema": "simdist.trace/1", "seed": 0, "launch": {}, "events": events, "plan": None, "results": [],
            "outcome": "ok", "diagnosis": ""}


def gids(fig) -> list[str]:
    return [a.get_gid() for a in fig.findobj(lambda a: bool(a.get_gid()))]


def panels(fig) -> list[str]:
    return [g for g in gids(fig) if g.startswith("step-")]


def transfers(fig, step: int) -> list[str]:
    return [g for g in gids(fig) if g.startswith(f"transfer-{step}-")]


def chunk_states(fig, step: int) -> dict[tuple[int, int], str]:
    """(rank, chunk) -> "held/needed" contributions after ``step``."""
    out = {}
    for a in fig.findobj(lambda a: (a.get_gid() or "").startswith(f"chunk-{step}-")):
        _, _, rank, chunk = a.get_gid().split("-")
        out[(int(rank), int(chunk))] = a.get_label()
    return out


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_a_ring_all_reduce_has_2_n_minus_1_step_panels(n):
    fig = simdist.plot.ring_steps(trace(ring_events(n)))
    assert len(panels(fig)) == 2 * (n - 1)
    for step in range(2 * (n - 1)):
        assert len(transfers(fig, step)) == n  # every rank sends once per step


def test_each_arrow_is_the_contracts_chunk_moving_to_the_next_rank():
    fig = simdist.plot.ring_steps(trace(ring_events(4)))
    assert sorted(transfers(fig, 0)) == sorted(["transfer-0-0-1-0", "transfer-0-1-2-1", "transfer-0-2-3-2",
                                                "transfer-0-3-0-3"])
    assert sorted(transfers(fig, 3)) == sorted(["transfer-3-0-1-1", "transfer-3-1-2-2", "transfer-3-2-3-3",
                                                "transfer-3-3-0-0"])


def test_buffers_fill_up_then_spread():
    n = 4
    fig = simdist.plot.ring_steps(trace(ring_events(n)))
    after_reduce_scatter = chunk_states(fig, n - 2)
    complete = {key for key, state in after_reduce_scatter.items() if state == f"{n}/{n}"}
    assert complete == {(r, (r + 1) % n) for r in range(n)}  # rank r owns reduced chunk r + 1
    at_the_end = chunk_states(fig, 2 * (n - 1) - 1)
    assert set(at_the_end.values()) == {f"{n}/{n}"}


def test_the_title_names_the_algorithm_and_the_step_count():
    fig = simdist.plot.ring_steps(trace(ring_events(4)))
    title = next(a for a in fig.findobj(lambda a: a.get_gid() == "steps-title"))
    assert "ring all_reduce over 4 ranks: 6 steps = 2(n−1)" in title.get_text()


def test_a_binomial_tree_is_drawn_with_an_arrow_per_transfer():
    tree = [  # reduce to rank 0, then broadcast back: 2 log2(4) steps, one chunk
        ("reduce", [(1, 0), (3, 2)]),
        ("reduce", [(2, 0)]),
        ("broadcast", [(0, 2)]),
        ("broadcast", [(0, 1), (2, 3)]),
    ]
    events = [{"t": 0.0, "kind": "collective", "node": None, "rank": None, "detail": {
        "op": "all_reduce", "seq": 0, "group": "world", "ranks": [0, 1, 2, 3], "algorithm": "tree", "bytes": 4096,
        "start": 0.0, "end": 4.0, "algbw": 1.0, "busbw": 1.0}}]
    for s, (phase, edges) in enumerate(tree):
        events.append({"t": float(s), "kind": "collective_step", "node": None, "rank": None, "detail": {
            "op": "all_reduce", "seq": 0, "group": "world", "algorithm": "tree", "step": s, "steps": 4,
            "phase": phase, "reduce": phase == "reduce", "transfers": [{"src": a, "dst": b, "chunk": 0, "bytes": 4096} for a, b in edges],
            "start": float(s), "end": s + 1.0}})
    fig = simdist.plot.ring_steps(trace(events))
    assert len(panels(fig)) == 4
    assert [len(transfers(fig, s)) for s in range(4)] == [2, 1, 1, 2]
    assert chunk_states(fig, 1)[(0, 0)] == "4/4"  # the root holds the full sum after the reduce phase
    assert set(chunk_states(fig, 3).values()) == {"4/4"}


def test_per_rank_step_events_are_merged_into_one_panel_per_step():
    events = []
    for e in ring_events(3):
        if e["kind"] != "collective_step":
            events.append(e)
            continue
        for transfer in e["detail"]["transfers"]:
            events.append({**e, "rank": transfer["src"], "detail": {**e["detail"], "transfers": [transfer]}})
    fig = simdist.plot.ring_steps(trace(events))
    assert len(panels(fig)) == 4
    assert len(transfers(fig, 0)) == 3


def test_seq_picks_the_collective():
    fig = simdist.plot.ring_steps(trace(ring_events(2, seq=0) + ring_events(3, seq=1, t=10.0)), seq=1)
    assert len(panels(fig)) == 4
    assert len(panels(simdist.plot.ring_steps(trace(ring_events(2, seq=0) + ring_events(3, seq=1))))) == 2


def test_long_rings_elide_the_middle_of_each_phase():
    fig = simdist.plot.ring_steps(trace(ring_events(12)))
    assert len(panels(fig)) == 2 * 4  # per phase: the first 3 steps, "… 7 more steps …", the last
    assert sorted(g for g in gids(fig) if g.startswith("elided-steps")) == ["elided-steps-0", "elided-steps-1"]


def test_a_trace_without_steps_says_so():
    with pytest.raises(ConfigError, match="no collective steps"):
        simdist.plot.ring_steps(trace([]))
    with pytest.raises(ConfigError, match="seq 5"):
        simdist.plot.ring_steps(trace(ring_events(2)), seq=5)
    with pytest.raises(ConfigError, match="trace"):
        simdist.plot.ring_steps({"schema": "simdist.plan/1", "launch": {}, "world_size": 0, "nodes": [],
                                 "workers": []})


def test_a_simulated_trace_with_steps_draws_map_timeline_and_steps_together():
    import contextlib
    import io
    import json

    from simdist.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["simulate", "--nnodes", "2", "--nproc", "2", "--master-port", "29500", "-f", "json"])
    simulated = json.loads(out.getvalue())
    simulated["events"] += ring_events(4, t=max(e["t"] for e in simulated["events"]))
    fig = simdist.plot.draw(simulated)
    assert [ax.get_gid() for ax in fig.axes] == ["rank-map", "timeline", "timeline-chart", "collective-steps"]
    assert len(panels(fig)) == 6


@pytest.mark.parametrize("n", [2, 3, 5, 8])
@pytest.mark.parametrize(
    ("call", "algorithm"),
    [("all_reduce", "ring"), ("all_reduce", "tree"), ("all_reduce", "recursive_doubling"), ("all_gather", "auto"),
     ("reduce_scatter", "auto"), ("broadcast", "auto"), ("reduce", "auto")],
)  # fmt: skip
def test_replaying_the_simulators_own_steps_ends_with_every_result_complete(call, algorithm, n):
    """Every schedule the simulator traces, replayed chunk by chunk, leaves each rank with what the
    collective promises (the root alone for reduce, its own chunk for reduce_scatter)."""
    torch = pytest.importorskip("torch")
    from simdist import LaunchSpec, ScenarioOptions, SimOptions, simulate
    from simdist.plot._steps import find_collective, replay

    def scenario(dist):
        x = torch.ones(n * 2)
        if call == "all_gather":
            dist.all_gather([torch.empty(n * 2) for _ in range(n)], x)
        elif call == "reduce_scatter":
            dist.reduce_scatter(torch.empty(2), [torch.ones(2) for _ in range(n)])
        elif call in ("broadcast", "reduce"):
            getattr(dist, call)(x, 0)
        else:
            dist.all_reduce(x)

    spec = LaunchSpec(nnodes=1, nproc_per_node=n, master_port=29500)
    result = simulate(spec, options=SimOptions(agent_startup=0.1, worker_startup=0.1), scenario=scenario,
                      scenario_options=ScenarioOptions(algorithm=algorithm))  # fmt: skip
    assert result.outcome == "ok", result.diagnosis
    collective = find_collective(result)  # the typed Trace simulate() returns
    n_chunks, states, full = replay(collective)
    if call == "reduce_scatter":  # rank r ends with chunk r reduced over every rank
        assert [states[-1][r][r] for r in range(n)] == [full[r] for r in range(n)]
        return
    for rank in [0] if call == "reduce" else range(n):
        assert states[-1][rank] == full, (rank, states[-1][rank])
