"""`simdist simulate`: the timeline, the trace contract, determinism and bad input."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simdist.cli import main


def run(capsys, *argv):
    code = main(["simulate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_timeline_tells_the_story_and_the_verdict(capsys):
    code, out, err = run(capsys, "--nnodes", "2", "--nproc", "2", "--master-port", "29500", "--seed", "3")
    assert code == 0 and err == ""
    assert "hosts the TCPStore on 127.0.0.1:29500" in out
    assert "GROUP_RANK=1/2 → RANKs 2–3 of WORLD_SIZE=4" in out
    assert out.rstrip().splitlines()[-1].startswith("✓ ok:")


def test_json_trace_contract_and_trace_file(capsys, tmp_path):
    path = tmp_path / "t.json"
    code, out, _ = run(capsys, "--nnodes", "2", "--nproc", "1,2", "--master-port", "29500", "-f", "json", "--trace", str(path))
    assert code == 0
    trace = json.loads(out)
    assert set(trace) >= {"schema", "seed", "launch", "events", "plan", "results", "outcome", "diagnosis"}
    assert trace["schema"] == "simdist.trace/1" and trace["outcome"] == "ok"
    assert [r["rank"] for r in trace["results"]] == [0, 1, 2]
    assert trace["plan"]["workers"][2]["env"]["RANK"] == "2"
    assert all({"t", "kind", "node", "rank", "detail"} == set(e) for e in trace["events"])
    assert json.loads(path.read_text()) == trace


def test_same_seed_same_bytes_through_the_cli(capsys):
    argv = ("--nnodes", "3", "--nproc", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:29400", "-f", "json")
    first = run(capsys, *argv, "--seed", "11")[1]
    assert run(capsys, *argv, "--seed", "11")[1] == first
    assert run(capsys, *argv, "--seed", "12")[1] != first


def test_a_node_that_never_starts_is_diagnosed(capsys):
    code, out, _ = run(capsys, "--nnodes", "2", "--master-port", "29500", "--rdzv-conf", "timeout=30", "--start-times", "0,never")
    assert code == 1
    assert "✗ rendezvous_timeout: node 0: torch.distributed.DistStoreError: Timed out after 31 seconds" in out
    assert "Root cause: node 1 never started." in out


def test_failure_and_restart_are_in_the_story(capsys):
    code, out, _ = run(capsys, "--nnodes", "2", "--nproc", "2", "--master-port", "29500", "--max-restarts", "1",
                       "--start-times", "0,0", "--fail", "1:0@2.5", "--work", "5")  # fmt: skip
    assert code == 0, out
    assert "worker group FAILED (ranks [2]). 1/1 attempts left; will restart worker group" in out
    assert "TORCHELASTIC_RESTART_COUNT=1" in out


def test_a_static_restart_after_the_peers_finished_cannot_rejoin(capsys):
    """Static restarts are local: the new workers look for peers that have already exited."""
    code, out, _ = run(capsys, "--nnodes", "2", "--nproc", "2", "--master-port", "29500", "--max-restarts", "1",
                       "--start-times", "0,0", "--fail", "1:0@2.5", "--work", "1")  # fmt: skip
    assert code == 1
    assert "Connection refused: rank 0's worker has already exited" in out


@pytest.mark.parametrize(
    ("fail", "why"),
    [
        ("1@50", "the launch had ended at t="),  # after torchrun exited everywhere
        ("1:1@0.5", "machine 1 runs no worker with LOCAL_RANK=1 at that moment"),  # before workers spawn
    ],
)
def test_a_failure_that_hits_nothing_is_said_not_ignored(capsys, fail, why):
    code, out, _ = run(capsys, "--nnodes", "2", "--nproc", "2", "--master-port", "29500", "--start-times", "0,0",
                       "--fail", fail)  # fmt: skip
    assert code == 0
    assert f"⚠ --fail {fail} hits nothing: {why}" in out
    assert f"(--fail {fail} hit nothing: {why}" in out.rstrip().splitlines()[-1]
    assert "injected failure" not in out


def test_exhausted_restarts_print_the_child_failed_error(capsys):
    code, out, _ = run(capsys, "--nnodes", "1", "--nproc", "2", "--master-port", "29500", "--start-times", "0",
                       "--fail", "0:1@2.5")  # fmt: skip
    assert code == 1
    assert "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:" in out
    assert "exitcode  : -9" in out and "(SIGKILL)" in out
    assert "exitcode  : -15" in out  # the sibling torchrun stopped


@pytest.mark.parametrize(
    "argv",
    [
        ["--nnodes", "2", "--start-times", "0"],
        ["--nnodes", "2", "--start-times", "0,-1"],
        ["--nnodes", "2", "--start-times", "0,soon"],
        ["--nnodes", "2", "--fail", "5@1"],
        ["--nnodes", "2", "--fail", "1:7@1"],
        ["--nnodes", "2", "--fail", "one@1"],
        ["--nnodes", "2", "--node-ranks", "0,-1"],
        ["--seed", "abc"],
        ["--work", "-1"],
        ["--format", "yaml"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("simdist simulate: error: ") and "Traceback" not in err


def test_plot_option_draws_the_simulated_run(capsys, tmp_path):
    target = tmp_path / "run.png"
    code, _, err = run(capsys, "--nproc", "4", "--scenario", "allreduce", "--algorithm", "ring", "--start-times", "0",
                       "--plot", str(target))  # fmt: skip
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


SIM_VOCABULARY = st.sampled_from(
    ["--nnodes", "--nproc", "--seed", "--start-times", "--fail", "--node-ranks", "--scenario", "--backend",
     "--algorithm", "--pg-timeout", "--work", "-f", "2", "0", "-1", "1:2", "abc", "0,never", "1@2", "9@1", "0:5@1",
     "allreduce", "broken_order", "nope", "x.py:f", "ring", "tree", "gloo", "nccl", "json", "timeline", "0,1,1", "1e9"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SIM_VOCABULARY, max_size=8))
def test_random_simulate_argv_never_tracebacks(argv):
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["simulate", "--pg-timeout", "5", *argv])
    assert code in (0, 1, 2)
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    else:
        assert "Traceback" not in err.getvalue()
