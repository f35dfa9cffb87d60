"""A real gloo sweep on loopback: the fitted profile predicts what was measured, and bandwidths are nccl-tests'.

Timings vary from run to run on a shared CPU, so nothing here compares against fixed
numbers: the profile is fitted from the same run it is checked against, each point is
a median over interleaved rounds (a slow spell slows every size alike), and the sizes
stay where gloo on this kind of machine behaves as one α-β line (4 KiB to 1 MiB; above
the CPU cache the cost per byte changes, which the profile handles with size segments).
"""

import json
import math

import pytest

from simdist.cli import main
from simdist.collectives._algorithms import bus_factor
from simdist.collectives._profile import load_profile
from simdist.real._agents import alive

pytestmark = [pytest.mark.real, pytest.mark.timeout(240)]
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """One small sweep shared by the tests below: 2 ranks, 5 sizes, all_reduce and broadcast."""
    folder = tmp_path_factory.mktemp("calibrate")
    path = folder / "gloo.json"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["calibrate", "--nproc", "2", "--backend", "gloo", "--sizes", "4KiB..1MiB:4",
                     "--ops", "all_reduce,broadcast", "--iters", "45", "-o", str(path)])  # fmt: skip
    return code, out.getvalue(), path


def test_the_sweep_writes_a_profile_and_prints_nccl_tests_tables(sweep):
    code, out, path = sweep
    assert code == 0, out
    assert out.startswith("calibrating gloo: all_reduce, broadcast × 5 sizes (4 KiB–1 MiB) × 45 iterations")
    assert "this takes about" in out
    assert "#       size       count   type       time    algbw    busbw      model   resid" in out
    profile = load_profile(path)
    assert profile.backend == "gloo" and profile.torch_version and profile.host["hostname"]
    assert {(f.op, f.algorithm, f.link, f.ranks) for f in profile.collectives} == {
        ("all_reduce", "ring", "intra", 2), ("broadcast", "tree", "intra", 2)}
    assert [p.bytes for p in profile.points if p.op == "all_reduce"] == [4096, 16384, 65536, 262144, 1048576]
    assert profile.links[0].link == "intra" and profile.measured_links == ("intra",)


def test_predictions_are_within_25_percent_of_measured_times_from_64_kib(sweep):
    _, out, path = sweep
    profile = load_profile(path)
    checked = 0
    for point in profile.points:
        predicted = profile.predict(point.op, point.bytes, point.ranks, link=point.link, algorithm=point.algorithm)
        assert math.isclose(predicted, point.predicted, rel_tol=1e-9)
        if point.bytes >= 64 * 2**10:
            checked += 1
            assert abs(predicted - point.time) <= 0.25 * point.time, (point, out)
    assert checked == 6


def test_busbw_is_the_nccl_tests_formula_on_the_measured_time(sweep):
    _, out, path = sweep
    data = json.loads(path.read_text())
    for point in data["points"]:
        factor = {"all_reduce": 2 * (2 - 1) / 2, "broadcast": 1.0}[point["op"]]
        assert point["algbw"] == point["bytes"] / point["time"]
        assert math.isclose(point["busbw"], point["bytes"] / point["time"] * factor, rel_tol=1e-12)
        row = f" {point['bytes']:>11} {point['count']:>11}  float {point['time'] * 1e6:>10.1f} "
        assert row in out  # the printed table shows the same numbers


def test_real_run_reports_measured_time_and_busbw_next_to_the_profile_prediction(sweep, tmp_path, capsys):
    _, _, path = sweep
    report_path = tmp_path / "report.json"
    code = main(["simulate", "--nproc", "2", "--scenario", "allreduce", "--real", "--profile", str(path),
                 "--report", str(report_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(report_path.read_text())
    assert report["cost_model"]["profile"] == load_profile(path).name
    assert "Collectives: predicted vs measured" in out and "predicted times: profile" in out
    (row,) = report["collectives"]
    assert (row["op"], row["ranks"], row["bytes"]) == ("all_reduce", [0, 1], 8)
    measured, predicted = row["measured"], row["predicted"]
    assert measured["ranks_timed"] == 2 and measured["time"] > 0
    assert measured["busbw"] == pytest.approx(8 / measured["time"] * bus_factor("all_reduce", 2), rel=1e-12)
    assert predicted["time"] == pytest.approx(load_profile(path).predict("all_reduce", 8, 2), abs=2e-9)  # ns-rounded
    assert row["measured_over_predicted"] == pytest.approx(measured["time"] / predicted["time"])
    assert not [pid for agent in report["agents"] for pid in agent["pids"] if alive(pid)]


def test_a_script_under_real_is_timed_too(sweep, tmp_path, capsys):
    """Your own script, run unmodified through torchrun: each blocking collective timed beside the profile's time."""
    _, _, path = sweep
    script = tmp_path / "train.py"
    script.write_text("import torch, torch.distributed as dist\n"
                      "dist.init_process_group('gloo')\n"
                      "x = torch.ones(16384)\n"
                      "dist.all_reduce(x)\n"
                      "dist.broadcast(x, 0)\n"
                      "print('sum', float(x.sum()))\n")  # fmt: skip
    report_path = tmp_path / "report.json"
    code = main(["simulate", "--nproc", "2", "--real", "--profile", str(path), "--report", str(report_path),
                 str(script)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(report_path.read_text())
    assert report["cost_model"]["profile"] == load_profile(path).name
    assert [(r["op"], r["ranks"], r["bytes"]) for r in report["collectives"]] == [
        ("all_reduce", [0, 1], 65536), ("broadcast", [0, 1], 65536)]
    for row in report["collectives"]:
        assert row["measured"]["ranks_timed"] == 2 and row["measured"]["time"] > 0
        assert row["predicted"]["time"] == pytest.approx(load_profile(path).predict(row["op"], 65536, 2), abs=2e-9)
    assert "Collectives: predicted vs measured" in out
