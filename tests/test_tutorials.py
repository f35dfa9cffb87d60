"""The tutorial site: every example runs and prints what its page shows.

Examples live in tutorials/examples/ and run exactly as tutorials/update_outputs.py
runs them (it is imported here): ``.sh`` in-process through ``simdist.cli.main`` with
COLUMNS=100, ``.py`` as ``python tutorials/examples/NAME.py``. After a deliberate change
of output, regenerate with ``python tutorials/update_outputs.py`` and review the diff.
"""

import difflib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
EXAMPLES = TUTORIALS / "examples"
SNIPPET = re.compile(r'--8<-- "([^"]+)"')


def _harness():
    spec = importlib.util.spec_from_file_location("tutorials_update_outputs", TUTORIALS / "update_outputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


harness = _harness()
ALL = harness.examples()
SIMULATED = [e for e in ALL if not e.real]
REAL = [e for e in ALL if e.real]


def _diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(), actual.splitlines(), f"{name}.out", "actual", lineterm="")
    return "\n".join(lines) + "\n(regenerate with: python tutorials/update_outputs.py " + name + ")"


@pytest.mark.parametrize("example", SIMULATED, ids=lambda e: e.path.name)
def test_example_prints_its_golden_output(example, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", harness.COLUMNS)
    code, output = harness.run_example(example, tmp_path)
    assert code == example.exit_code, f"{example.name} exited {code}, expected {example.exit_code}:\n{output}"
    expected = example.out.read_text()
    assert output == expected, _diff(expected, output, example.name)


@pytest.mark.real
@pytest.mark.parametrize("example", REAL, ids=lambda e: e.path.name)
def test_real_example_exit_status_and_key_lines(example, tmp_path, monkeypatch):
    """Real runs print process ids and take seconds: check the status and the key lines only."""
    pytest.importorskip("torch")
    monkeypatch.setenv("COLUMNS", harness.COLUMNS)
    code, output = harness.run_example(example, tmp_path)
    assert code == example.exit_code, f"{example.name} exited {code}, expected {example.exit_code}:\n{output}"
    assert example.expect, f"{example.name}: a --real example needs '# expect:' lines"
    shown = example.out.read_text()
    for line in example.expect:
        assert line in output, f"{example.name}: {line!r} not in the output:\n{output}"
        assert line in shown, f"{example.name}: {line!r} not in {example.out.name}; regenerate with --real"
    if example.argv[0] == "calibrate":  # the profile it wrote is the document to check
        output = example.argv[example.argv.index("-o") + 1]
        profile = json.loads((tmp_path / output).read_text())
        assert profile["schema"] == "simdist.profile/1" and profile["points"] and profile["links"]
        return
    report = json.loads((tmp_path / "simdist-report.json").read_text())  # the keys reference.md lists
    assert report["schema"] == "simdist.report/1"
    assert {"launch", "plan", "scenario", "backend", "torch_version", "predicted_results", "workers", "agents",
            "gathered_by", "nodes_run_here", "comparison", "diagnosis"} <= set(report)  # fmt: skip
    assert {"rank", "local_rank", "group_rank", "node_rank", "env", "hostname", "pid", "device", "result",
            "error"} <= set(report["workers"][0])  # fmt: skip


def test_at_most_two_real_examples():
    """Real examples take seconds each: two --real runs and one small calibration."""
    assert len([e for e in REAL if "--real" in e.argv]) <= 2, [e.name for e in REAL]
    assert len([e for e in REAL if e.argv[0] == "calibrate"]) <= 1, [e.name for e in REAL]


def _pages() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(TUTORIALS.glob("*.md"))}


def test_every_snippet_exists_and_every_example_is_shown():
    included = {}
    for page, text in _pages().items():
        for path in SNIPPET.findall(text):
            assert (ROOT / path).is_file(), f"{page} includes {path}, which does not exist"
            included.setdefault(path, page)
    example_files = sorted(
        p for p in EXAMPLES.rglob("*") if p.is_file() and p.suffix in (".sh", ".py", ".out") and "__pycache__" not in p.parts
    )
    missing = [str(p.relative_to(ROOT)) for p in example_files if str(p.relative_to(ROOT)) not in included]
    assert not missing, f"example files no page includes: {missing}"


def test_every_example_has_its_output_file():
    assert [e.name for e in ALL if not e.out.is_file()] == []
    strays = [p.name for p in EXAMPLES.glob("*.out") if not p.with_suffix(".sh").exists() and not p.with_suffix(".py").exists()]
    assert strays == []


def test_every_page_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text()
    assert sorted(_pages()) == sorted(re.findall(r":\s*(\S+\.md)\s*$", config, re.MULTILINE))


def test_mkdocs_build_is_strict_clean(tmp_path):
    pytest.importorskip("mkdocs")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    page = (tmp_path / "site" / "01-explain" / "index.html").read_text()
    assert "192.168.5.228" in page  # the snippets were included
    assert (tmp_path / "site" / "figures" / "rank-map-2x2.svg").is_file()  # the hook served the figures
