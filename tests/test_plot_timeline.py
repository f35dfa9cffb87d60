"""The launch timeline (Gantt) drawn from simulated traces, checked by its artists."""

import contextlib
import io
import json

import pytest

pytest.importorskip("matplotlib")

import simdist.plot  # noqa: E402
from simdist import ConfigError  # noqa: E402
from simdist.cli import main  # noqa: E402


def simulate(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["simulate", *args, "-f", "json"])
    return json.loads(out.getvalue())


def gids(fig) -> list[str]:
    return [a.get_gid() for a in fig.findobj(lambda a: bool(a.get_gid()))]


def row_labels(fig) -> list[str]:
    chart = next(a for a in fig.axes if a.get_gid() == "timeline-chart")
    return [t.get_text() for t in chart.get_yticklabels()]


def test_one_agent_row_and_one_row_per_worker():
    fig = simdist.plot.timeline(simulate("--nnodes", "2", "--nproc", "2", "--master-port", "29500"))
    assert row_labels(fig) == ["node 0 · 127.0.0.1", "LOCAL_RANK 0", "LOCAL_RANK 1",
                               "node 1 · 127.0.0.1", "LOCAL_RANK 0", "LOCAL_RANK 1"]
    ids = gids(fig)
    for node in (0, 1):
        assert any(g.startswith(f"agent-{node}-startup") for g in ids)
        assert any(g.startswith(f"worker-{node}-0-run") for g in ids)
    runs = [a for a in fig.findobj(lambda a: (a.get_gid() or "").startswith("worker-")) if "-run-" in a.get_gid()]
    assert sorted(a.get_label() for a in runs) == [f"run RANK {r}" for r in range(4)]
    assert not any(g.startswith(("failure-", "restart-")) for g in ids)


def test_a_worker_failure_and_the_restart_are_marked():
    fig = simdist.plot.timeline(simulate("--nnodes", "2", "--nproc", "2", "--master-port", "29500",
                                         "--fail", "1:0@2.7", "--max-restarts", "1"))
    ids = gids(fig)
    assert any(g.startswith("failure-1-0") for g in ids)  # the killed worker
    assert any(g.startswith("restart-1") for g in ids)  # its agent restarts the group
    assert "timeline-legend-restart" in ids and "timeline-legend-failure" in ids
    restarted = [a.get_label() for a in fig.findobj(lambda a: (a.get_gid() or "").startswith("worker-1-0-run"))]
    assert restarted == ["run RANK 2 · restart 1"]


def test_a_long_quiet_stretch_is_cut_out_of_the_time_axis():
    # A dead machine leaves its peers in init_process_group until the 1800 s store timeout.
    fig = simdist.plot.timeline(simulate("--nnodes", "2", "--nproc", "2", "--master-port", "29500",
                                         "--fail", "1@2.5"))
    assert any(g.startswith("time-break-") for g in gids(fig))
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert any("1800 s" in t for t in texts)


def test_collectives_are_thin_bars_on_their_ranks_rows():
    trace = simulate("--nnodes", "1", "--nproc", "2", "--master-port", "29500")
    ready = max(e["t"] for e in trace["events"] if e["kind"] == "process_group_ready")
    trace["events"].append({"t": ready, "kind": "collective", "node": None, "rank": None, "detail": {
        "op": "all_reduce", "seq": 0, "group": "world", "ranks": [0, 1], "algorithm": "ring", "bytes": 8,
        "start": ready, "end": ready + 0.2, "algbw": 1.0, "busbw": 1.0}})
    fig = simdist.plot.timeline(trace)
    bars = [a for a in fig.findobj(lambda a: (a.get_gid() or "").startswith("collective-"))]
    assert sorted(a.get_gid().split("-")[1] for a in bars) == ["0", "1"]
    assert {a.get_label() for a in bars} == {"collective all_reduce"}


def test_large_launches_elide_nodes_and_workers():
    fig = simdist.plot.timeline(simulate("--nnodes", "12", "--nproc", "8", "--master-port", "29500",
                                         "--master-addr", "10.0.0.1"))
    labels = row_labels(fig)
    agents = [label for label in labels if label.startswith("node ")]
    assert len(agents) == 6
    assert "… 6 more nodes" in labels
    assert labels.count("… 4 more workers") == 6


def test_timeline_needs_a_trace():
    with pytest.raises(ConfigError, match="trace"):
        simdist.plot.timeline({"schema": "simdist.plan/1", "launch": {}, "world_size": 0, "nodes": [],
                               "workers": []})
