"""The folder tree is the architecture: import-linter's contracts (pyproject.toml) hold, and they bite."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"]

pytest.importorskip("importlinter")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd), "HOME": str(cwd)}
    return subprocess.run(LINT, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """A copy of the package and its contracts, to plant forbidden imports in."""
    copy = tmp_path_factory.mktemp("house")
    shutil.copytree(ROOT / "simdist", copy / "simdist", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_every_contract_is_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("launch/_spec.py", "from ..sim import _kernel", "Layers:"),  # a lower layer reaching up
        ("sim/_kernel.py", "from . import _agent", "sim, bottom-up"),  # a circle inside sim
        ("documents/_trace.py", "import torch", "The core (errors, documents, launch, sim) is standard"),
        ("real/_run.py", "import torch", "The real-mode launcher never imports torch"),
        ("plot/_save.py", "from ..real import _run", "Layers:"),  # two surfaces tied together
    ],
)
def test_a_forbidden_import_breaks_its_contract(planted, module, line, contract):
    path = planted / "simdist" / module
    original = path.read_text()
    path.write_text(original.replace("from __future__ import annotations\n",
                                     f"from __future__ import annotations\n{line}  # planted\n", 1))  # fmt: skip
    try:
        result = _lint(planted)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(b.startswith(contract) for b in broken), result.stdout[-3000:]
