"""simdist.profile/1: it round-trips through JSON, bad files are one-line errors (exit 2), and a
simulation timed by a profile is as reproducible as any other — and says where its times come from."""

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simdist import ConfigError, LaunchSpec, ScenarioOptions, simulate
from simdist.cli import main
from simdist.collectives._algorithms import DEFAULT_SOURCE, CostModel
from simdist.collectives._profile import Profile, load_profile, parse_json
from simdist.documents import (
    CollectiveTiming, Comparison, CostModelSummary, Prediction, Report, TimedCall, Trace,
)  # fmt: skip
from tests.profile_helpers import synthetic_profile


@pytest.fixture
def profile_file(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(synthetic_profile().to_json())
    return path


def test_a_profile_round_trips_through_json(tmp_path):
    profile = synthetic_profile()
    path = tmp_path / "p.json"
    path.write_text(profile.to_json())
    again = load_profile(path)
    assert again == profile
    assert again.to_json() == profile.to_json()


@settings(max_examples=30, deadline=None)
@given(alpha=st.floats(1e-6, 1e-3), bandwidth=st.floats(1e8, 1e11),
       noise=st.lists(st.floats(-0.3, 0.3), min_size=1, max_size=24), ranks=st.integers(2, 64))  # fmt: skip
def test_any_fitted_profile_round_trips(alpha, bandwidth, noise, ranks):
    profile = synthetic_profile(alpha, 1 / bandwidth, noise=noise, ranks=ranks)
    assert Profile.from_dict(json.loads(profile.to_json())) == profile


def test_points_carry_nccl_tests_bandwidths():
    profile = synthetic_profile()
    for point in profile.to_dict()["points"]:
        factor = 2 * (2 - 1) / 2 if point["op"] == "all_reduce" else 1.0
        assert point["algbw"] == point["bytes"] / point["time"]
        assert math.isclose(point["busbw"], point["bytes"] / point["time"] * factor)


def _bad(tmp_path, text: str | bytes, name: str = "bad.json"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _mutated(**changes) -> str:
    data = synthetic_profile().to_dict()
    for dotted, value in changes.items():
        target = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[keys[-1]] = value
    return json.dumps(data)


BAD_PROFILES = {
    "not JSON": ("{nope", "is not JSON"),
    "NaN": (_mutated().replace('"wall_time": 1.5', '"wall_time": NaN'), "NaN is not a JSON number"),
    "deep": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "huge number": ('{"schema": "simdist.profile/1", "wall_time": ' + "9" * 5000 + "}", "not valid JSON"),
    "a plan": ('{"schema": "simdist.plan/1"}', "is not a simdist profile (schema 'simdist.plan/1'"),
    "no schema": ("[1, 2]", "no 'schema' key"),
    "negative alpha": (_mutated(**{"links.intra.segments": [{"min_bytes": 8, "max_bytes": 64, "alpha": -1.0,
                                                               "beta": 1e-9}]}), "'alpha' must be at least 0"),  # fmt: skip
    "overlapping segments": (_mutated(**{"links.intra.segments": [
        {"min_bytes": 8, "max_bytes": 64, "alpha": 1e-6, "beta": 1e-9},
        {"min_bytes": 32, "max_bytes": 128, "alpha": 1e-6, "beta": 1e-9}]}), "overlap"),
    "unknown op": (_mutated(**{"collectives.0.op": "all_the_things"}), "'op' must be one of"),
    "string alpha": (_mutated(**{"collectives.0.segments": [{"min_bytes": 8, "max_bytes": 8, "alpha": "fast",
                                                             "beta": 0}]}), "'alpha' is not a finite number"),  # fmt: skip
    "control characters": (_mutated(name="evil\x1b[2Jname"), "control characters"),
    "no links": (_mutated(links={}), "'links' is empty"),
    "bad backend": (_mutated(backend="mpi"), "'backend' must be one of gloo, nccl"),
    "too many points": (_mutated(points=[0] * 100_001), "at most 100000"),
    "not UTF-8": (b'{"schema": "\xff\xfe"}', "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROFILES))
def test_a_bad_profile_is_a_one_line_config_error(case, tmp_path):
    text, message = BAD_PROFILES[case]
    path = _bad(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(40 * 2**20)  # sparse: 40 MiB of nothing
    with pytest.raises(ConfigError, match="too large for a profile"):
        load_profile(path)


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_profile(tmp_path / "absent.json")
    with pytest.raises(ConfigError, match="it is a folder"):
        load_profile(tmp_path)


@pytest.mark.parametrize("case", ["not JSON", "a plan", "deep", "control characters"])
def test_simulate_with_a_bad_profile_exits_2_with_one_line(case, tmp_path, capsys):
    path = _bad(tmp_path, BAD_PROFILES[case][0])
    code = main(["simulate", "--nproc", "2", "--scenario", "allreduce", "--profile", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("simdist simulate: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


def test_profile_options_that_make_no_sense_are_refused(profile_file, capsys):
    assert main(["simulate", "--nproc", "2", "--profile", str(profile_file)]) == 2
    assert "only used with --scenario" in capsys.readouterr().err
    assert main(["simulate", "--nproc", "2", "--scenario", "allreduce", "--profile", str(profile_file),
                 "--bandwidth-intra", "10"]) == 2  # fmt: skip
    assert "--latency-*/--bandwidth-*" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not both"):
        ScenarioOptions(profile=profile_file, cost=CostModel(alpha_intra=1e-3))


def test_simulating_with_a_profile_gives_byte_identical_traces(profile_file, capsys):
    runs = []
    for _ in range(2):
        assert main(["simulate", "--nnodes", "2", "--nproc", "2", "--scenario", "training", "--seed", "3",
                     "--profile", str(profile_file), "-f", "json"]) == 0  # fmt: skip
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1]
    trace = json.loads(runs[0])
    assert trace["cost_model"]["profile"] == "synthetic" and trace["cost_model"]["measured"] is True
    assert trace["cost_model"]["links"] == {"intra": "measured", "inter": "not measured: within a machine values used"}
    api = [simulate(LaunchSpec(nnodes=2, nproc_per_node=2), seed=3, scenario="training",
                    scenario_options=ScenarioOptions(profile=str(profile_file))).to_json() for _ in range(2)]  # fmt: skip
    assert api[0] == api[1]


def test_the_cost_model_is_a_typed_part_of_the_trace_and_reads_back(profile_file):
    for options in (ScenarioOptions(profile=str(profile_file)), ScenarioOptions()):
        trace = simulate(LaunchSpec(nnodes=2, nproc_per_node=2), seed=1, scenario="training", scenario_options=options)
        assert isinstance(trace.cost_model, CostModelSummary)
        again = Trace.from_dict(json.loads(trace.to_json()))
        assert again.cost_model == trace.cost_model and again.to_json() == trace.to_json()
    assert simulate(LaunchSpec(nproc_per_node=2)).cost_model is None  # nothing ran: no collective was timed


def test_a_script_is_timed_by_the_profile_too(profile_file, tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text("import torch, torch.distributed as dist\ndist.init_process_group('gloo')\n"
                      "dist.all_reduce(torch.ones(1024))\n")  # fmt: skip
    assert main(["simulate", "--nproc", "2", "--profile", str(profile_file), str(script)]) == 0
    assert "collective times: profile synthetic" in capsys.readouterr().out


def test_a_report_reads_back_its_collective_timings_and_cost_model():
    predicted = TimedCall(2e-4, 4096 / 2e-4, 4096 / 2e-4, algorithm="ring")
    measured = TimedCall(3e-4, 4096 / 3e-4, 4096 / 3e-4, ranks_timed=2)
    rows = (CollectiveTiming("all_reduce", (0, 1), 4096, predicted, measured),
            CollectiveTiming("broadcast", (0, 1), 8, None, measured))  # fmt: skip
    cost = synthetic_profile().cost_model(origin="p.json").summary()
    report = Report(launch={}, scenario="allreduce", backend="gloo", torch_version=None, plan=None,
                    prediction=Prediction(cost_model=cost), workers=(), agents=(), comparison=Comparison(),
                    failed=False, diagnosis=None, collectives=rows)  # fmt: skip
    data = json.loads(report.to_json())
    assert data["collectives"][0]["measured_over_predicted"] == pytest.approx(1.5)
    assert data["collectives"][0]["predicted"] == {"time": 2e-4, "algbw": 4096 / 2e-4, "busbw": 4096 / 2e-4,
                                                   "algorithm": "ring"}  # fmt: skip
    assert data["cost_model"]["file"] == "p.json" and data["cost_model"]["measured"] is True
    again = Report.from_dict(data)
    assert again.collectives == rows and again.prediction.cost_model == cost
    with pytest.raises(ConfigError, match="a collective lacks 'bytes'"):
        Report.from_dict({**data, "collectives": [{"op": "all_reduce", "ranks": [0, 1]}]})


def test_the_timeline_says_where_collective_times_come_from(profile_file, capsys):
    assert main(["simulate", "--nproc", "2", "--scenario", "allreduce", "--profile", str(profile_file)]) == 0
    assert "collective times: profile synthetic (gloo, on testhost, torch 2.13.0+cpu, measured 2026-12-01" in (
        capsys.readouterr().out
    )
    assert main(["simulate", "--nproc", "2", "--scenario", "allreduce"]) == 0
    out = capsys.readouterr().out
    assert f"collective times: {DEFAULT_SOURCE}" in out and DEFAULT_SOURCE == "defaults: NVLink-class, not measured"
    trace = simulate(LaunchSpec(nproc_per_node=2), scenario="allreduce")
    assert trace.to_dict()["cost_model"]["source"] == DEFAULT_SOURCE


def test_a_profile_times_collectives_as_measured_not_as_nvlink(profile_file):
    """The same collective, timed by the NVLink-class defaults and by a 1 GB/s profile."""
    seconds = {}
    for label, options in (("defaults", ScenarioOptions()), ("profile", ScenarioOptions(profile=profile_file))):
        trace = simulate(LaunchSpec(nproc_per_node=2), seed=0, scenario="training", scenario_options=options)
        (first, *_) = trace.of_kind("collective")
        seconds[label] = first.detail["end"] - first.detail["start"]
    assert seconds["profile"] > 10 * seconds["defaults"]


def test_a_profile_without_points_still_prices(tmp_path):
    profile = dataclasses.replace(synthetic_profile(), points=())
    path = tmp_path / "fits-only.json"
    path.write_text(profile.to_json())
    assert load_profile(path).predict("all_reduce", 2**20, 2) == profile.predict("all_reduce", 2**20, 2)


def test_parse_json_refuses_infinity():
    with pytest.raises(ConfigError, match="Infinity is not a JSON number"):
        parse_json('{"a": Infinity}', "x")
