"""`simdist explain` must start instantly: no torch, matplotlib, numpy or hypothesis on its path."""

import subprocess
import sys

HEAVY = ("torch", "matplotlib", "numpy", "hypothesis", "greenlet")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(result.stdout.split())


def test_importing_the_cli_loads_nothing_heavy():
    assert _loaded_after("import simdist.cli") == set()


def test_running_explain_loads_nothing_heavy():
    code = "import contextlib, io\nfrom simdist.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    main(['explain', '--nnodes', '2', '--nproc', '2'])"
    for fmt in ("table", "json", "tree", "env"):
        assert _loaded_after(code.replace("'2'])", f"'2', '-f', '{fmt}'])")) == set()


def test_import_simdist_is_light_too():
    assert _loaded_after("import simdist") == set()


def test_running_script_and_explain_from_load_nothing_heavy():
    code = "import contextlib, io\nfrom simdist.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    main(ARGS)"
    for args in (["script", "--nnodes", "2", "--hosts", "10.0.0.1,10.0.0.2", "train.py"],
                 ["script", "--slurm", "--nnodes", "2", "--nproc", "8", "train.py"],
                 ["explain", "--from", "mpirun", "--", "mpirun", "-np", "4", "-H", "a:2,b:2", "t.py"]):  # fmt: skip
        assert _loaded_after(code.replace("ARGS", repr(args))) == set(), args
