"""`--real`: torchrun for real, predicted vs observed, failures named, nothing left behind."""

import json
import os
from pathlib import Path

import pytest

from simdist import ConfigError
from simdist.cli import main
from simdist.documents import Report
from simdist.real._agents import alive

pytestmark = pytest.mark.real
pytest.importorskip("torch")

HERE = Path(__file__).parent
FAULTY = HERE / "scenarios" / "faulty.py"


def _real(capsys, tmp_path, *argv):
    """Run ``simdist simulate --real``: the status, the output, the report file as JSON and read back typed."""
    path = tmp_path / "report.json"
    code = main(["simulate", "--real", "--report", str(path), *argv])
    out, err = capsys.readouterr()
    data = json.loads(path.read_text()) if path.exists() else None
    return code, out, err, data, None if data is None else Report.from_dict(data, str(path))


def _no_orphans(report: Report):
    pids = [pid for agent in report.agents for pid in agent.pids]
    assert pids, "the run should have recorded its processes"
    assert not [pid for pid in pids if alive(pid)]


def test_one_node_two_processes_matches(capsys, tmp_path):
    code, out, _, data, report = _real(capsys, tmp_path, "--scenario", "allreduce", "--nnodes", "1", "--nproc", "2")
    assert code == 0, out
    assert data["schema"] == "simdist.report/1" and data["comparison"]["matches"] and report.matches
    assert report.to_dict() == data  # the file is the typed report, every key of it
    assert [w.result for w in report.workers] == [[1.0, 2.0], [1.0, 2.0]]
    assert {"rank", "local_rank", "group_rank", "node_rank", "env", "hostname", "pid", "device", "result"} <= set(
        data["workers"][0]
    )
    assert "matched the prediction for all 2 ranks" in out
    _no_orphans(report)


@pytest.mark.parametrize("nproc", ["2", "1,3"], ids=["2x2", "1+3"])
def test_local_nodes_match(capsys, tmp_path, nproc):
    code, out, _, _, report = _real(capsys, tmp_path, "--scenario", "ring", "--nnodes", "2", "--nproc", nproc,
                                    "--local-nodes")  # fmt: skip
    assert code == 0, out
    world = sum(int(p) for p in nproc.split(",")) if "," in nproc else 2 * int(nproc)
    assert len(report.workers) == world
    assert {w.node_rank for w in report.workers} == {0, 1}
    _no_orphans(report)


def test_a_wrong_prediction_exits_1_and_shows_the_difference(capsys, tmp_path):
    code, out, _, _, report = _real(capsys, tmp_path, "--scenario", f"{FAULTY}:pid_dependent", "--nnodes", "1",
                                    "--nproc", "2")  # fmt: skip
    assert code == 1
    assert not report.matches
    assert {d.field for d in report.comparison.differences} == {"result"}
    assert "difference(s) from the prediction" in out and "result: predicted" in out


def test_a_crashing_worker_is_named(capsys, tmp_path):
    code, out, _, _, report = _real(capsys, tmp_path, "--scenario", f"{FAULTY}:crash_on_rank_1", "--nnodes", "1",
                                    "--nproc", "2", "--timeout", "60")  # fmt: skip
    assert code == 1
    assert report.diagnosis.startswith("rank 1")
    assert "rank 1 fails on purpose" in report.diagnosis
    _no_orphans(report)


def test_a_hanging_worker_is_stopped_and_named(capsys, tmp_path):
    # The timeout leaves the healthy rank time to start and report even on a busy machine.
    code, out, _, _, report = _real(capsys, tmp_path, "--scenario", f"{FAULTY}:hang_on_rank_1", "--nnodes", "1",
                                    "--nproc", "2", "--timeout", "30")  # fmt: skip
    assert code == 1
    assert report.diagnosis == "timed out; rank 1 never reported (hung or killed)"
    _no_orphans(report)


def test_torch_missing_exits_3(capsys, monkeypatch, tmp_path):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    code, _, err, _, _ = _real(capsys, tmp_path, "--scenario", "env")
    assert code == 3
    assert "pip install torch" in err and len(err.strip().splitlines()) == 1


def test_report_is_never_half_written(tmp_path):
    from simdist.documents._io import write_atomic

    target = tmp_path / "r.json"
    write_atomic(target, "{}")
    assert target.read_text() == "{}"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~_umask()  # as open() would make it, not mkstemp's 0600
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError, match="cannot write"):  # the final rename fails: nothing is left behind
        write_atomic(tmp_path / "folder", "{}")
    assert sorted(os.listdir(tmp_path)) == ["folder", "r.json"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_the_launching_process_never_imports_torch(tmp_path):
    """Only torchrun and the workers load torch: the launcher stays light (and --real fast)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom simdist.cli import main\n"
        f"rc = main(['simulate', '--real', '--scenario', 'allreduce', '--nproc', '2', '--report', r'{tmp_path / 'r.json'}'])\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "NO-TORCH 0", result.stdout + result.stderr


def test_a_cluster_launch_gathers_every_node_on_the_rank_0_machine(tmp_path):
    """The same command on every machine (only --node-rank differs): RANK 0's machine reports all ranks."""
    import subprocess
    import sys

    from simdist.real._agents import free_port

    port = str(free_port())
    processes = []
    for node in (0, 1):
        folder = tmp_path / f"node{node}"
        folder.mkdir()
        argv = [sys.executable, "-m", "simdist", "simulate", "--real", "--scenario", "allreduce", "--nnodes", "2",
                "--nproc", "1", "--master-addr", "127.0.0.1", "--master-port", port, "--node-rank", str(node),
                "--timeout", "60", "--report", str(folder / "report.json")]  # fmt: skip
        processes.append(subprocess.Popen(argv, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    report = Report.from_dict(json.loads((tmp_path / "node0" / "report.json").read_text()))
    assert report.matches and [w.rank for w in report.workers] == [0, 1]
    assert not (tmp_path / "node1" / "report.json").exists()
    assert "ran its share" in outputs[1][0]


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_everything(tmp_path, signal_name):
    """SIGINT (Ctrl-C) or SIGTERM (a cancelled CI job) to simdist ends the run with 130 and takes
    every process down, though torchrun's agents run in sessions of their own."""
    import signal
    import subprocess
    import sys
    import time

    from simdist.real._agents import descendants

    argv = [sys.executable, "-m", "simdist", "simulate", "--real", "--scenario", f"{FAULTY}:hang_on_rank_1",
            "--nproc", "2", "--timeout", "120", "--report", str(tmp_path / "r.json")]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen: set[int] = set()
        while time.monotonic() < deadline and len(seen) < 3:  # torchrun and its 2 workers
            seen.update(descendants(process.pid))
            time.sleep(0.2)
        time.sleep(3)  # the workers are in their scenarios now
        seen.update(descendants(process.pid))
        process.send_signal(getattr(signal, signal_name))
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err
    time.sleep(0.5)
    assert not [pid for pid in seen if alive(pid)]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["simulate", "--real", "--fail", "0@1", "--seed", "3"], "--seed, --fail: they shape a simulation"),
        (["simulate", "--local-nodes"], "--local-nodes: only used with --real"),
        (["explain", "--backend", "nccl"], "--backend: only used with --real"),
        (["simulate", "--real", "--timeout", "nan"], "--timeout must be a positive number"),
        (["simulate", "--real", "--pg-timeout", "0"], "--pg-timeout must be a positive number"),
        (["simulate", "--real", "--timeout", "30", "--pg-timeout", "30"], "must be shorter than --timeout"),
    ],
)
def test_options_that_would_be_ignored_or_never_fire_are_refused(capsys, argv, named):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and named in err and len(err.strip().splitlines()) == 1, err


def test_an_unwritable_report_path_is_refused_before_anything_runs(capsys, tmp_path):
    code = main(["simulate", "--real", "--report", str(tmp_path / "missing" / "r.json"), "--timeout", "5"])
    assert code == 2 and "folder" in capsys.readouterr().err


def test_simdist_real_exposes_its_entry_points_not_its_plumbing():
    import simdist.documents
    import simdist.real

    public = {name for name in dir(simdist.real) if not name.startswith("_")}
    assert set(simdist.real.__all__) == public == {"RealOptions", "Report", "run_real"}
    assert simdist.real.Report is simdist.documents.Report
    assert (simdist.real.RealOptions.__module__, simdist.real.run_real.__module__) == ("simdist.real", "simdist.real")
