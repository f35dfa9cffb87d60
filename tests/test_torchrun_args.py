"""The pasted-command parser reads torchrun command lines exactly as torch 2.13 does."""

import os
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simdist import ConfigError, make_plan
from simdist.launch._commands import torchrun_argv
from simdist.launch._torchrun_args import parse_torchrun_args, spec_from_command
from simdist.testing.strategies import launch_specs

torch_run = pytest.importorskip("torch.distributed.run")

# (names, values) for every torchrun option; values are what a user could type.
WORDS = st.from_regex(r"[a-z][a-z0-9_.]{0,8}", fullmatch=True)
OPTIONS = [
    (("--nnodes",), st.sampled_from(["1", "2", "1:4", "3"])),
    (("--nproc-per-node", "--nproc_per_node"), st.sampled_from(["1", "2", "8", "gpu"])),
    (("--rdzv-backend", "--rdzv_backend"), st.sampled_from(["static", "c10d"])),
    (("--rdzv-endpoint", "--rdzv_endpoint"), st.sampled_from(["head:29400", "10.0.0.1", "[::1]:1"])),
    (("--rdzv-id", "--rdzv_id"), WORDS),
    (("--rdzv-conf", "--rdzv_conf"), st.sampled_from(["join_timeout=5", "timeout=9,last_call_timeout=1"])),
    (("--standalone",), None),
    (("--max-restarts", "--max_restarts"), st.integers(0, 9).map(str)),
    (("--monitor-interval", "--monitor_interval"), st.sampled_from(["0.1", "1", "2.5"])),
    (("--start-method", "--start_method"), st.sampled_from(["spawn", "fork", "forkserver"])),
    (("--role",), WORDS),
    (("-m", "--module"), None),
    (("--no-python", "--no_python"), None),
    (("--run-path", "--run_path"), None),
    (("--log-dir", "--log_dir"), st.sampled_from(["/tmp/logs", "logs"])),
    (("-r", "--redirects"), st.sampled_from(["0", "3", "0:1,1:2"])),
    (("-t", "--tee"), st.sampled_from(["0", "3"])),
    (("--local-ranks-filter", "--local_ranks_filter"), st.sampled_from(["0", "0,1"])),
    (("--duplicate-stdout-filters", "--duplicate_stdout_filters"), st.sampled_from(["a,b", "x,,y"])),
    (("--node-rank", "--node_rank"), st.integers(0, 3).map(str)),
    (("--master-addr", "--master_addr"), st.sampled_from(["10.0.0.1", "head", "127.0.0.1"])),
    (("--master-port", "--master_port"), st.integers(1, 65535).map(str)),
    (("--local-addr", "--local_addr"), st.sampled_from(["10.0.0.2", "node1"])),
    (("--numa-binding", "--numa_binding"), st.sampled_from(["node", "socket", "exclusive", "core-complex"])),
    (("--signals-to-handle", "--signals_to_handle"), st.sampled_from(["SIGTERM", "SIGTERM,SIGUSR1"])),
    (("--shutdown-timeout", "--shutdown_timeout"), st.integers(1, 60).map(str)),
    (("--virtual-local-rank", "--virtual_local_rank"), None),
]
PET = {
    "PET_NNODES": st.sampled_from(["2", "1:3"]),
    "PET_NPROC_PER_NODE": st.sampled_from(["4", "gpu"]),
    "PET_MASTER_PORT": st.integers(1, 65535).map(str),
    "PET_MAX_RESTARTS": st.integers(0, 5).map(str),
    "PET_STANDALONE": st.sampled_from(["0", "1"]),
    "PET_NODE_RANK": st.integers(0, 3).map(str),
}


@st.composite
def torchrun_command_lines(draw):
    argv = []
    for names, values in draw(st.lists(st.sampled_from(OPTIONS), max_size=8, unique_by=lambda o: o[0])):
        name = draw(st.sampled_from(names))
        if values is None:
            argv.append(name)
        elif name.startswith("--") and draw(st.booleans()):
            argv.append(f"{name}={draw(values)}")
        else:
            argv += [name, draw(values)]
    argv.append(draw(st.sampled_from(["train.py", "pkg.mod", "/abs/x.py"])))
    argv += draw(st.lists(st.sampled_from(["--lr", "0.1", "--nnodes", "9", "-x"]), max_size=4))
    environ = draw(st.fixed_dictionaries({}, optional=PET))
    return argv, environ


def _torch_parse(argv, environ):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PET_")}
    with mock.patch.dict(os.environ, {**clean, **environ}, clear=True):
        return torch_run.get_args_parser().parse_args(argv)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(torchrun_command_lines())
def test_parser_agrees_with_torch_get_args_parser(case):
    argv, environ = case
    assert vars(parse_torchrun_args(argv, environ)) == vars(_torch_parse(argv, environ))


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="unrecognized arguments|required"):
        parse_torchrun_args(["--nnodes", "2"], {})


@settings(max_examples=100)
@given(launch_specs(backends=("static",), gpus=False, heterogeneous=False), st.data())
def test_generated_node_command_reads_back_as_the_same_launch(spec, data):
    """explain's per-node command, pasted back, describes the same launch (one command fits equal nodes)."""
    machine = data.draw(st.integers(0, spec.max_nodes - 1))
    back = spec_from_command(torchrun_argv(spec, machine), environ=dict(spec.launcher_env), hosts=spec.hosts)
    assert make_plan(back).to_dict()["workers"] == make_plan(_with_node_rank(spec, back.node_rank)).to_dict()["workers"]


def _with_node_rank(spec, node_rank):
    import dataclasses

    return dataclasses.replace(spec, node_rank=node_rank)


def test_pet_variables_are_defaults_and_flags_win():
    spec = spec_from_command(["torchrun", "--nproc-per-node=2", "t.py"], environ={"PET_NNODES": "3", "PET_NPROC_PER_NODE": "8"})
    assert (spec.nnodes, spec.nprocs) == ("3", (2, 2, 2))


def test_prefix_env_and_python_m_launcher():
    spec = spec_from_command(
        ["CUDA_VISIBLE_DEVICES=2,3", "OMP_NUM_THREADS=4", "python3", "-m", "torch.distributed.run", "--nproc_per_node=2", "t.py"],
        environ={},
    )
    plan = make_plan(spec)
    assert [w.gpu for w in plan.workers] == [2, 3]
    assert plan.workers[0].env["OMP_NUM_THREADS"] == "4"


@pytest.mark.parametrize(
    "command",
    [
        ["bash", "run.sh"],
        ["python", "train.py"],
        ["torchrun"],
        ["torchrun", "--nnodes"],
        ["torchrun", "--nproc-per-node=many", "t.py"],
        ["python", "-m", "torch.distributed.launch", "t.py"],
        ["torchrun", "--nproc-per-node=gpu", "t.py"],
    ],
)
def test_malformed_commands_are_config_errors(command):
    with pytest.raises(ConfigError):
        spec_from_command(command, environ={})


def test_gpu_token_uses_gpus_per_node():
    spec = spec_from_command(["torchrun", "--nproc-per-node=gpu", "t.py"], environ={}, gpus_per_node=4)
    assert spec.nprocs == (4,)
