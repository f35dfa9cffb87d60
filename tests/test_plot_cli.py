"""`simdist plot`: pictures by extension, atomic writes, and one line + exit 2 for every bad input."""

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

import simdist.plot  # noqa: E402
from simdist import ConfigError, LaunchSpec, make_plan  # noqa: E402
from simdist.cli import main  # noqa: E402


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(make_plan(LaunchSpec(nnodes=2, nproc_per_node=2, master_port=29500)).to_dict()))
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["plot", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name, magic", [("ranks.png", b"\x89PNG\r\n\x1a\n"), ("ranks.svg", b"<?xml"),
                                         ("RANKS.SVG", b"<?xml")])
def test_the_extension_picks_the_format(capsys, tmp_path, plan_file, name, magic):
    code, out, err = run(capsys, plan_file, "-o", tmp_path / name)
    assert (code, out, err) == (0, "", "")
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no temp file left behind


def test_a_trace_gives_rank_map_and_timeline(capsys, tmp_path):
    trace = tmp_path / "trace.json"
    assert main(["simulate", "--nnodes", "2", "--nproc", "1", "--master-port", "29500", "--trace", str(trace)]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, trace, "-o", tmp_path / "trace.svg")
    assert (code, err) == (0, "")
    svg = (tmp_path / "trace.svg").read_text()
    assert 'id="rank-map"' in svg and 'id="timeline-chart"' in svg and 'id="worker-1"' in svg
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert len(ids) == len(set(ids))  # two drawings in one SVG, still no id twice


def bad_inputs(tmp_path, plan_file):
    not_json = tmp_path / "notes.json"
    not_json.write_text("RANK = node_rank * nproc + local_rank\n")
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"schema": "vendor.report/3", "nodes": []}))
    no_schema = tmp_path / "list.json"
    no_schema.write_text("[1, 2, 3]")
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps({"schema": "simdist.plan/1", "launch": {}, "world_size": 4}))
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    out = tmp_path / "x.png"
    return {
        "missing input": ([tmp_path / "nope.json", "-o", out], "no such file"),
        "not json": ([not_json, "-o", out], "is not JSON"),
        "foreign schema": ([foreign, "-o", out], "not a simdist plan, trace or report"),
        "not an object": ([no_schema, "-o", out], "not a simdist plan, trace or report"),
        "truncated plan": ([truncated, "-o", out], "malformed simdist.plan/1"),
        "unknown extension": ([plan_file, "-o", tmp_path / "x.pdf"], "use .png or .svg"),
        "no extension": ([plan_file, "-o", tmp_path / "picture"], "use .png or .svg"),
        "missing folder": ([plan_file, "-o", tmp_path / "no" / "such" / "x.png"], "does not exist"),
        "folder is a file": ([plan_file, "-o", a_file / "x.png"], "is a file"),
        "output is a folder": ([plan_file, "-o", tmp_path / "dir.png"], "is a folder"),
        "input is a folder": ([tmp_path, "-o", out], "is a folder"),
        "no steps in a plan": ([plan_file, "-o", out, "--view", "steps"], "no steps to draw"),
        "no -o": ([plan_file], "--output"),
    }


BAD_INPUTS = ["missing input", "not json", "foreign schema", "not an object", "truncated plan", "unknown extension",
              "no extension", "missing folder", "folder is a file", "output is a folder", "input is a folder",
              "no steps in a plan", "no -o"]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, plan_file, case):
    (tmp_path / "dir.png").mkdir()
    args, fragment = bad_inputs(tmp_path, plan_file)[case]
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("simdist plot: error: ")
    assert fragment in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_save_refuses_unknown_extensions_without_writing(tmp_path):
    fig = simdist.plot.rank_map(make_plan(LaunchSpec()).to_dict())
    with pytest.raises(ConfigError, match="use .png or .svg"):
        simdist.plot.save(fig, tmp_path / "x.jpg")
    assert list(tmp_path.iterdir()) == []


def test_svg_is_byte_stable_and_dateless(tmp_path):
    data = make_plan(LaunchSpec(nnodes=2, nproc_per_node=[1, 3], master_port=29500)).to_dict()
    first = simdist.plot.save(simdist.plot.rank_map(data), tmp_path / "a.svg").read_bytes()
    second = simdist.plot.save(simdist.plot.rank_map(data), tmp_path / "b.svg").read_bytes()
    assert first == second
    assert b"<dc:date>" not in first


def test_plotting_loads_matplotlib_only_when_asked():
    probe = (
        "import sys, contextlib, io\n"
        "from simdist.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['plot', '--help'])\n"
        "print('matplotlib' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
                            env={**os.environ, "COLUMNS": "100"})
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_the_public_surface_is_small():
    assert sorted(simdist.plot.__all__) == ["check_path", "draw", "plot_file", "rank_map", "ring_steps", "save",
                                            "timeline"]


def test_typed_documents_draw_what_their_json_draws(tmp_path):
    """Every drawing takes the typed document as well as its JSON form, and draws the same picture."""
    from simdist import SimOptions, simulate
    from simdist.documents import Report

    def svg(fig, name: str) -> bytes:
        return simdist.plot.save(fig, tmp_path / f"{name}.svg").read_bytes()

    plan = make_plan(LaunchSpec(nnodes=2, nproc_per_node=[1, 3], gpus_per_node=4, master_port=29500))
    assert svg(simdist.plot.rank_map(plan.document()), "a") == svg(simdist.plot.rank_map(plan.to_dict()), "b")
    trace = simulate(LaunchSpec(nnodes=2, nproc_per_node=2, master_port=29500, max_restarts=1), start_times=[0, 0],
                     failures=["1:0@2.5"], options=SimOptions(work=5), scenario="allreduce")  # fmt: skip
    data = json.loads(trace.to_json())
    for view in ("auto", "timeline", "steps"):
        assert svg(simdist.plot.draw(trace, view=view), "c") == svg(simdist.plot.draw(data, view=view), "d"), view
    report = {"schema": "simdist.report/1", "launch": data["launch"], "backend": "gloo", "plan": data["plan"],
              "workers": [{**{k: w[k] for k in ("rank", "local_rank", "group_rank", "node_rank", "env")},
                           "device": {"type": "cpu", "index": None}} for w in data["plan"]["workers"]],
              "comparison": {"matches": True, "differences": []}}  # fmt: skip
    assert svg(simdist.plot.rank_map(Report.from_dict(report)), "e") == svg(simdist.plot.rank_map(report), "f")
