"""The README's quickstart lines are what CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash" and not inside
            continue
        if inside:
            lines.append(line)
    return lines


def test_quickstart_has_two_lines_and_ci_runs_the_test_line():
    commands = _commands((ROOT / "README.md").read_text())
    assert len(commands) == 2
    install_and_explain, install_and_test = commands
    assert install_and_explain.endswith("simdist explain --nnodes 2 --nproc 2")
    assert "pytest" in install_and_test and ".[test]" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text()
