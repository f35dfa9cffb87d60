"""`simdist calibrate`: what it accepts, what it plans, and one-line errors (exit 2) for everything else.

None of these start torchrun: every mistake is caught before the sweep does.
"""

import subprocess
import sys

import pytest

from simdist import ConfigError, LaunchSpec
from simdist.cli import main
from simdist.collectives._profile import format_size, parse_ops, parse_sizes
from simdist.real._calibrate import CalibrateOptions, plan_calibration


def test_sizes_read_like_nccl_tests():
    assert parse_sizes("8B..32MiB") == tuple(2**k for k in range(3, 26))
    assert parse_sizes("1KiB..1MiB:4") == (2**10, 2**12, 2**14, 2**16, 2**18, 2**20)
    assert parse_sizes("4KiB, 1MiB,4KiB") == (4096, 2**20)
    assert parse_sizes("64K,1M,1G") == (2**16, 2**20, 2**30)
    assert parse_sizes("1MB,1000") == (1000, 10**6)
    assert parse_sizes("8B..100B:3") == (8, 24, 72)
    assert format_size(65536) == "64 KiB" and format_size(8) == "8 B" and format_size(3 * 2**19) == "1.5 MiB"


def test_ops_read_as_names_or_all():
    assert parse_ops("all") == ("all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all")
    assert parse_ops("broadcast, all-reduce,broadcast") == ("broadcast", "all_reduce")
    assert parse_ops("all_gather_into_tensor") == ("all_gather",)


def test_the_plan_says_what_runs_and_how_long():
    plan = plan_calibration(LaunchSpec(nnodes=2, nproc_per_node=2), CalibrateOptions(backend="gloo"))
    assert plan.backend == "gloo" and plan.phases == (("intra", 2), ("inter", 2))
    assert plan.sizes == tuple(2**k for k in range(3, 26)) and plan.iters == 21 and plan.warmup == 2
    assert 5 < plan.estimate < 60 and plan.timeout >= 120
    assert "within a machine (2 ranks), between machines (2 ranks)" in plan.describe()
    one = plan_calibration(LaunchSpec(nproc_per_node=[1, 3], nnodes=2), CalibrateOptions(backend="gloo"))
    assert one.phases == (("intra", 3), ("inter", 2))
    small = plan_calibration(LaunchSpec(nproc_per_node=2), CalibrateOptions(backend="gloo", sizes=(4096,),
                                                                            ops=("all_reduce",)))  # fmt: skip
    assert small.estimate < plan.estimate


BAD = {
    "word size": (["--nproc", "2", "--sizes", "big"], "'big' is not a size"),
    "zero": (["--nproc", "2", "--sizes", "0B"], "at least 1 byte"),
    "backwards": (["--nproc", "2", "--sizes", "1MiB..8B"], "runs backwards"),
    "factor 1": (["--nproc", "2", "--sizes", "8B..1MiB:1"], "factor ≥ 2"),
    "factor word": (["--nproc", "2", "--sizes", "8B..1MiB:x"], "factor ≥ 2"),
    "too large": (["--nproc", "2", "--sizes", "64GiB"], "too large"),
    "absurd": (["--nproc", "2", "--sizes", "99999999999999999999TB"], "is not a size"),
    "too many": (["--nproc", "2", "--sizes", "1B..4GiB:2,3B..3GiB:2,5B..4GiB:2"], "more than 64 sizes"),
    "empty item": (["--nproc", "2", "--sizes", "8B,,16B"], "empty item"),
    "unknown unit": (["--nproc", "2", "--sizes", "8EiB"], "is not a size"),
    "unknown op": (["--nproc", "2", "--ops", "all_reduce,teleport"], "unknown collective 'teleport'"),
    "no op": (["--nproc", "2", "--ops", ","], "unknown collective"),
    "one process": (["--nproc", "1"], "at least 2 processes"),
    "elastic": (["--nnodes", "1:2", "--nproc", "2"], "fixed number of nodes"),
    "iters": (["--nproc", "2", "--iters", "0"], "--iters must be from 1"),
    "warmup": (["--nproc", "2", "--warmup", "-1"], "--warmup must be from 0"),
    "timeout": (["--nproc", "2", "--timeout", "nan"], "--timeout must be a positive number"),
    "folder": (["--nproc", "2", "-o", "/no/such/folder/p.json"], "does not exist"),
    "plot": (["--nproc", "2", "--plot", "picture.gif"], "not a picture format"),
    "name": (["--nproc", "2", "--name", "a\tb"], "--name must be"),
    "cluster": (["--nnodes", "2", "--nproc", "1"], "run the same command on every machine"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_exit_2(case, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, message = BAD[case]
    code = main(["calibrate", *argv])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("simdist calibrate: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "simdist-profile.json").exists()


def test_no_traceback_from_the_installed_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "simdist", "calibrate", "--nproc", "2", "--sizes", "8B..4XB"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and done.stdout == ""


def test_options_are_checked_as_a_library_too():
    for bad in (dict(backend="mpi"), dict(iters=0), dict(ops=()), dict(ops=("gather",)), dict(sizes=(0,)),
                dict(timeout=float("inf"))):  # fmt: skip
        with pytest.raises(ConfigError):
            CalibrateOptions(**bad)
