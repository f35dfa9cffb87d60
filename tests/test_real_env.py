"""Against the real thing: two torchrun agents on 127.0.0.1 give their workers the plan's environment."""

import json

import pytest

from simdist import LaunchSpec, make_plan
from simdist.launch._commands import torchrun_argv
from simdist.real._agents import clean_launcher_env, free_port, run_agents

from .conftest import TORCHRUN

pytestmark = pytest.mark.real
pytest.importorskip("torch")


def _run_real(spec: LaunchSpec, out, extra_env=None) -> dict[int, dict]:
    env = {**clean_launcher_env(), **spec.env, "SIMDIST_TEST_OUT": str(out), **(extra_env or {})}
    commands = [torchrun_argv(spec, m, launcher=TORCHRUN) for m in range(spec.max_nodes)]
    results = run_agents(commands, env=env, timeout=90)
    assert all(r.ok for r in results), [r.stderr[-2000:] for r in results]
    return {int(p.stem[4:]): json.loads(p.read_text()) for p in out.glob("rank*.json")}, env


@pytest.mark.parametrize(
    ("nprocs", "launcher_env"),
    [((2, 2), {}), ((1, 3), {"OMP_NUM_THREADS": "3", "TORCH_NCCL_ASYNC_ERROR_HANDLING": "0"})],
    ids=["homogeneous", "heterogeneous"],
)
def test_two_static_agents_match_the_plan(dump_env_script, nprocs, launcher_env):
    script, out = dump_env_script
    spec = LaunchSpec(
        nnodes=2,
        nproc_per_node=nprocs,
        master_addr="127.0.0.1",
        master_port=free_port(),
        hosts=("127.0.0.1", "127.0.0.1"),
        launcher_env=launcher_env,
        script=(str(script),),
    )
    plan = make_plan(spec)
    observed, agent_env = _run_real(spec, out)
    assert sorted(observed) == list(range(plan.world_size))
    for worker in plan.workers:
        real = observed[worker.rank]
        for key, value in worker.env.items():
            assert key in real, key
            if value is not None:
                assert real[key] == value, (worker.rank, key)
        set_by_torchrun = {k for k in real if k not in agent_env or real[k] != agent_env[k]}
        assert set_by_torchrun <= set(worker.env), set_by_torchrun - set(worker.env)
