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


def _shell_commands(text: str) -> list[str]:
    commands, inside, pending = [], False, ""
    for line in text.splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```shell" and not inside
            continue
        if inside:
            line = line.split("  #")[0].rstrip()
            pending += line.rstrip("\\").strip() + " "
            if not line.endswith("\\"):
                commands.append(pending.strip())
                pending = ""
    return [c for c in commands if c]


def test_readme_simulate_examples_run(capsys):
    import shlex

    from simdist.cli import main

    commands = [c for c in _shell_commands((ROOT / "README.md").read_text()) if "--real" not in c]
    assert len(commands) >= 5
    for command in commands:
        code = main(shlex.split(command)[1:])
        out = capsys.readouterr().out
        # The failing examples are the ones that show a launch going wrong on purpose.
        expected = 1 if "never" in command or "broken_" in command else 0
        assert code == expected, f"{command}\n{out}"
