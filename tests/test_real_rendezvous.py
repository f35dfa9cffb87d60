"""Against the real thing: torchrun's rendezvous decides what the simulator predicts."""

import dataclasses
import json
import socket

import pytest

from simdist import LaunchSpec
from simdist.launch._commands import torchrun_argv
from simdist import SimOptions, simulate
from simdist.real._agents import clean_launcher_env, free_port, run_agents

from .conftest import TORCHRUN

pytestmark = pytest.mark.real
pytest.importorskip("torch")


def _observed(out) -> dict[int, dict]:
    """Worker env per simulated node (SIMDIST_TEST_NODE), from the dump script."""
    by_node = {}
    for path in out.glob("rank*.json"):
        env = json.loads(path.read_text())
        by_node[int(env["SIMDIST_TEST_NODE"])] = env
    return by_node


@pytest.mark.parametrize("local_addrs", [(None, None), ("localhost", "127.0.0.1")], ids=["by-pid", "by-address"])
def test_c10d_group_ranks_match_the_sorted_descriptors(dump_env_script, local_addrs):
    script, out = dump_env_script
    port = free_port()
    spec = LaunchSpec(
        nnodes=2, nproc_per_node=1, rdzv_backend="c10d", rdzv_endpoint=f"127.0.0.1:{port}", rdzv_id="simdist-test",
        rdzv_conf={"join_timeout": 30, "last_call_timeout": 2}, script=(str(script),),
    )  # fmt: skip
    commands = []
    for addr in local_addrs:
        argv = torchrun_argv(spec, 0, launcher=TORCHRUN)
        if addr:
            argv.insert(argv.index(str(script)), f"--local-addr={addr}")
        commands.append(argv)
    env = {**clean_launcher_env(), "SIMDIST_TEST_OUT": str(out)}
    results = run_agents(commands, env=env, timeout=90, env_per_agent=[{"SIMDIST_TEST_NODE": "0"}, {"SIMDIST_TEST_NODE": "1"}])
    assert all(r.ok for r in results), [r.stderr[-2000:] for r in results]
    observed = _observed(out)

    fqdn = socket.getfqdn()  # what c10d uses when --local-addr is absent
    pids = tuple(r.pid for r in results)  # the agents' own pids: c10d breaks address ties by them
    options = SimOptions(pids=pids, local_addrs=tuple(a or fqdn for a in local_addrs), start_times=(0.0, 0.0))
    trace = simulate(dataclasses.replace(spec, hosts=("127.0.0.1", "127.0.0.1")), options=options)
    assert trace.outcome == "ok", trace.diagnosis
    predicted = {e.node: e.detail["group_rank"] for e in trace.of_kind("ranks_assigned")}
    assert {node: int(env["GROUP_RANK"]) for node, env in observed.items()} == predicted
    rank0 = min(predicted, key=predicted.get)
    assert observed[rank0]["MASTER_ADDR"] == (local_addrs[rank0] or fqdn)
    assert observed[0]["TORCHELASTIC_RUN_ID"] == "simdist-test"


def test_static_node_that_never_comes_fails_as_simulated(dump_env_script):
    script, out = dump_env_script
    spec = LaunchSpec(nnodes=2, nproc_per_node=1, master_port=free_port(), rdzv_conf={"timeout": 3}, script=(str(script),))
    (result,) = run_agents([torchrun_argv(spec, 0, launcher=TORCHRUN)], env=clean_launcher_env(), timeout=60)
    assert result.returncode == 1
    real_error = [line for line in result.stderr.splitlines() if line.startswith("torch.distributed.")][-1]

    trace = simulate(spec, start_times=(0.0, float("inf")))
    assert trace.outcome == "rendezvous_timeout"
    (error,) = [e for e in trace.of_kind("agent_error") if e.node == 0]
    assert real_error == f"torch.distributed.{error.detail['error']}: {error.detail['message']}"
    assert real_error in trace.diagnosis
