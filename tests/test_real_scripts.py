"""Against the real thing: the same unmodified scripts under real torchrun + gloo and in the simulator.

Each run is ``--real`` for a script: torchrun runs it for real, the simulator predicts it,
and the report compares every rank's exit code, printed output (the parameters'
fingerprints: bit-identical models print identical lines) and error.
"""

from pathlib import Path

import pytest

from simdist import LaunchSpec, simulate
from simdist.real import RealOptions, run_real

pytestmark = pytest.mark.real
pytest.importorskip("torch")
pytest.importorskip("numpy")

SCRIPTS = Path(__file__).parent / "scripts"


def real(spec: LaunchSpec, *script: str, local_nodes: bool = False):
    report = run_real(spec, RealOptions(script=tuple(script), timeout=150, local_nodes=local_nodes))
    assert report.prediction.error is None, report.prediction.error
    assert report.matches, [str(d) for d in report.comparison.differences]
    return report


def printed(report, rank: int) -> str:
    return report.worker(rank).result["stdout"]


@pytest.mark.parametrize(
    ("spec", "local_nodes"),
    [(LaunchSpec(nproc_per_node=2), False), (LaunchSpec(nproc_per_node=3), False),
     (LaunchSpec(nnodes=2, nproc_per_node=2), True)],
    ids=["1x2", "1x3", "2x2-local-nodes"],
)
def test_ddp_training_gives_bit_identical_models_and_output(spec, local_nodes):
    report = real(spec, str(SCRIPTS / "ddp_train.py"), "--epochs", "2", local_nodes=local_nodes)
    world = spec.max_nodes * spec.nprocs[0]
    fingerprints = {printed(report, r).split(" params ")[1].split()[0] for r in range(world)}
    assert len(fingerprints) == 1  # every rank holds the same model, and the simulator's prints agree
    assert not report.failed and all(w.result["exit_code"] == 0 for w in report.workers)


def test_fsdp2_training_gives_the_same_full_parameters():
    report = real(LaunchSpec(nproc_per_node=2), str(SCRIPTS / "fsdp2_train.py"))
    assert printed(report, 0).split(" params ")[1] == printed(report, 1).split(" params ")[1]


def test_a_script_reads_its_arguments_and_its_last_rank_exits_2():
    report = real(LaunchSpec(nproc_per_node=2), str(SCRIPTS / "args_exit.py"), "--lr", "0.25", "x")
    assert [w.result["exit_code"] for w in report.workers] == [0, 2]
    assert printed(report, 0).startswith("rank 0: lr=0.25 names=['x'] argv0=args_exit.py file=args_exit.py name=__main__")
    assert report.failed and report.prediction.outcome == "worker_failed"


def test_a_crash_with_one_restart_recovers_as_predicted():
    spec = LaunchSpec(nproc_per_node=2, max_restarts=1)
    report = real(spec, str(SCRIPTS / "crash_once.py"))
    assert printed(report, 1) == "rank 1 attempt 0\nrank 1 attempt 1\nrank 1 sum 3.0\n"
    assert not report.failed
    simulated = simulate(spec, start_times=(0.0,), script=[str(SCRIPTS / "crash_once.py")])
    assert simulated.outcome == "ok" and max(r.attempt for r in simulated.results) == 1


@pytest.mark.parametrize("how", ["smaller", "wrongsize"])
def test_init_with_a_world_size_torchrun_did_not_give_fails_as_predicted(how):
    report = real(LaunchSpec(nproc_per_node=2), str(SCRIPTS / "init_variants.py"), how)
    assert report.failed and any(w.error is not None for w in report.workers)
