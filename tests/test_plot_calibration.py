"""`simdist plot` draws predicted vs measured times from a profile and/or a --real report."""

import json

import pytest

from simdist.cli import main
from simdist.plot._calibration import calibration_figure, is_profile_file
from simdist.plot._save import render
from tests.profile_helpers import synthetic_profile


def _report(with_rows: bool = True) -> dict:
    rows = [
        {"op": "all_reduce", "ranks": [0, 1], "bytes": size,
         "predicted": {"time": 2e-4 + size * 1e-9, "algbw": 0, "busbw": 0, "algorithm": "ring"},
         "measured": {"time": 2.4e-4 + size * 1.1e-9, "algbw": 0, "busbw": 0, "ranks_timed": 2},
         "measured_over_predicted": 1.1}
        for size in (8, 4096, 2**20)
    ] + [{"op": "all_gather_into_tensor", "ranks": [0, 1], "bytes": 64, "predicted": None,
          "measured": {"time": 3e-4, "algbw": 0, "busbw": 0, "ranks_timed": 2}, "measured_over_predicted": None}]
    return {"schema": "simdist.report/1", "scenario": "training", "backend": "gloo", "workers": [],
            "comparison": {"matches": True, "differences": []}, "collectives": rows if with_rows else [],
            "cost_model": {"source": "profile synthetic (gloo)", "measured": True}}  # fmt: skip


@pytest.fixture
def files(tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text(synthetic_profile().to_json())
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_report()))
    return profile, report


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_a_profile_draws(files, tmp_path, suffix, capsys):
    profile, _ = files
    out = tmp_path / f"calibration{suffix}"
    assert main(["plot", str(profile), "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert capsys.readouterr().err == ""


def test_a_profile_and_a_report_draw_together_and_svg_bytes_are_stable(files, tmp_path):
    profile, report = files
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert main(["plot", str(profile), str(report), "-o", str(first)]) == 0
    assert main(["plot", str(profile), str(report), "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    svg = first.read_text()
    for label in ("all_reduce", "all_gather", "broadcast", "fit (synthetic", "measured (--real, per call)",
                  "defaults (NVLink-class, not measured)", "resid. %"):  # fmt: skip
        assert label.replace(" ", "") in svg.replace(" ", "") or label in svg, label


def test_a_report_alone_draws_with_view_calibration(files, tmp_path):
    _, report = files
    assert main(["plot", str(report), "--view", "calibration", "-o", str(tmp_path / "r.png")]) == 0


def test_the_figure_has_one_panel_and_one_strip_per_op():
    fig = calibration_figure([synthetic_profile().to_dict(), _report()])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["all_reduce", "all_gather", "broadcast"]  # all_gather_into_tensor is drawn as all_gather
    assert len(fig.axes) == 2 * len(titles)
    assert render(fig, "svg") == render(calibration_figure([synthetic_profile().to_dict(), _report()]), "svg")


BAD = {
    "report without timings": (lambda p, r, t: _write(t, _report(with_rows=False)), "has no collective timings"),
    "a plan": (lambda p, r, t: _write(t, {"schema": "simdist.plan/1", "launch": {}, "world_size": 1, "nodes": [],
                                          "workers": []}), "has no measured times to plot"),  # fmt: skip
    "corrupt profile": (lambda p, r, t: _text(t, '{"schema": "simdist.profile/1", "links": 3}'), "malformed"),
    "not JSON": (lambda p, r, t: _text(t, "{"), "is not JSON"),
}


def _write(folder, data) -> str:
    path = folder / "input.json"
    path.write_text(json.dumps(data))
    return str(path)


def _text(folder, text) -> str:
    path = folder / "input.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_exit_2_with_one_line(case, files, tmp_path, capsys):
    make, message = BAD[case]
    path = make(*files, tmp_path)
    code = main(["plot", path, str(files[0]), "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err


def test_views_that_take_one_document_are_refused_for_profiles(files, tmp_path, capsys):
    profile, report = files
    assert main(["plot", str(profile), "--view", "steps", "-o", str(tmp_path / "x.png")]) == 2
    assert "--view calibration" in capsys.readouterr().err
    assert is_profile_file(profile) and not is_profile_file(report) and not is_profile_file(tmp_path / "absent.json")
