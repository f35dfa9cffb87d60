"""Regenerate the golden output (``.out``) of every tutorial example.

Run from anywhere, with simdist installed::

    python tutorials/update_outputs.py             # rewrite every .out except the --real ones
    python tutorials/update_outputs.py --real      # also run the --real examples (slow, ~5 s each)
    python tutorials/update_outputs.py 02_ 04_     # only examples whose name starts with one of these
    python tutorials/update_outputs.py --check     # rewrite nothing; exit 1 if an output changed

The examples live in ``tutorials/examples/``:

``NAME.sh``
    One ``simdist …`` line, with optional ``#`` comment lines before it:

    - ``# exit: N``: the exit status the command must return (default 0);
    - ``# setup: simdist …``: a command run first, silently, in the same folder
      (to write a file that the example then reads);
    - ``# expect: TEXT``: for real examples, a line that must appear in the output.

    The command runs in-process through ``simdist.cli.main``, with ``COLUMNS=100`` (rich
    tables depend on the width), stdout and stderr captured together, in a fresh empty
    folder that holds a ``tutorials`` link to this folder (so files the command writes
    land there, and ``tutorials/examples/…`` paths still work).

``NAME.py``
    A complete program, run as ``python tutorials/examples/NAME.py`` from the repository
    root; its stdout is the output.

``scenarios/*.py``
    Scenario files used by the ``.sh`` examples (not run on their own).

A real example (``--real``, or ``simdist calibrate``) runs real torchrun, so its output holds
process ids and timings:
it is regenerated only with ``--real``, with process ids masked, and
``tests/test_tutorials.py`` checks only its exit status and its ``# expect:`` lines.
The test imports :func:`run_example` from this file, so both run examples the same way.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

TUTORIALS = Path(__file__).resolve().parent
ROOT = TUTORIALS.parent
EXAMPLES = TUTORIALS / "examples"
COLUMNS = "100"
# Variables that would make rich colour or resize its output.
UNSET = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "LINES", "TERMINAL_WIDTH")


@dataclass
class Example:
    """One example file and what its comments say about it."""

    path: Path
    argv: list[str] = field(default_factory=list)  # the simdist arguments (.sh only)
    setup: list[list[str]] = field(default_factory=list)
    exit_code: int = 0
    expect: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def out(self) -> Path:
        return self.path.with_suffix(".out")

    @property
    def real(self) -> bool:
        """Runs real torchrun: ``--real``, or ``simdist calibrate``."""
        return "--real" in self.argv or self.argv[:1] == ["calibrate"]


def _simdist_args(line: str, path: Path) -> list[str]:
    words = shlex.split(line)
    if not words or words[0] != "simdist":
        raise ValueError(f"{path.name}: expected a 'simdist …' command, got {line!r}")
    return words[1:]


def load(path: Path) -> Example:
    """Read an example file (``.sh`` or ``.py``)."""
    example = Example(path)
    if path.suffix == ".py":
        return example
    commands = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            key, _, value = line[1:].strip().partition(":")
            if key == "exit":
                example.exit_code = int(value)
            elif key == "setup":
                example.setup.append(_simdist_args(value.strip(), path))
            elif key == "expect":
                example.expect.append(value.strip())
            continue
        commands.append(line)
    if len(commands) != 1:
        raise ValueError(f"{path.name}: expected exactly one command line, found {len(commands)}")
    example.argv = _simdist_args(commands[0], path)
    return example


def examples() -> list[Example]:
    """Every runnable example, in name order."""
    paths = sorted([*EXAMPLES.glob("*.sh"), *EXAMPLES.glob("*.py")], key=lambda p: p.name)
    return [load(p) for p in paths]


@contextlib.contextmanager
def _environment(workdir: Path):
    saved_env = {k: os.environ.get(k) for k in ("COLUMNS", *UNSET)}
    saved_cwd = os.getcwd()
    os.environ["COLUMNS"] = COLUMNS
    for key in UNSET:
        os.environ.pop(key, None)
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_simdist(argv: list[str]) -> tuple[int, str]:
    from simdist.cli import main

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        code = main(list(argv))
    return code, captured.getvalue()


def run_example(example: Example, workdir: Path) -> tuple[int, str]:
    """Run one example; return its exit status and its output (stdout, then stderr for .sh)."""
    if example.path.suffix == ".py":
        env = {k: v for k, v in os.environ.items() if k not in UNSET}
        env["COLUMNS"] = COLUMNS
        done = subprocess.run(
            [sys.executable, str(example.path.relative_to(ROOT))],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
        return done.returncode, done.stdout
    link = workdir / "tutorials"
    if not link.exists():
        link.symlink_to(TUTORIALS, target_is_directory=True)
    with _environment(workdir):
        for setup in example.setup:
            code, output = _run_simdist(setup)
            if code != 0:
                raise RuntimeError(f"{example.name}: setup command failed ({code}):\n{output}")
        return _run_simdist(example.argv)


def mask(output: str) -> str:
    """Hide what changes from one real run to the next: process ids (same width, so tables stay aligned)."""
    return re.sub(r"(?<= / )\d+(?= / )", lambda m: "x" * len(m.group()), output)


def main(argv: list[str]) -> int:
    real = "--real" in argv
    check = "--check" in argv
    prefixes = [a for a in argv if not a.startswith("--")]
    changed = []
    for example in examples():
        if prefixes and not example.name.startswith(tuple(prefixes)):
            continue
        if example.real and not real:
            print(f"skip   {example.name} (real; pass --real)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            code, output = run_example(example, Path(tmp))
        if code != example.exit_code:
            print(f"FAILED {example.name}: exit {code}, expected {example.exit_code}\n{output}")
            return 1
        if example.real:
            output = mask(output)
            missing = [line for line in example.expect if line not in output]
            if missing:
                print(f"FAILED {example.name}: missing expected lines {missing}\n{output}")
                return 1
        old = example.out.read_text() if example.out.exists() else None
        if old != output:
            changed.append(example.name)
            if not check:
                example.out.write_text(output)
        print(f"{'changed' if old != output else 'same   '} {example.name}")
    if check and changed:
        print(f"{len(changed)} output(s) differ: {', '.join(changed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
