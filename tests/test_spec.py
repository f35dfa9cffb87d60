"""LaunchSpec validation and torchrun 2.13's rendezvous rules."""

import pytest

from simdist import ConfigError, LaunchSpec, make_plan, resolve_rendezvous
from simdist.launch._spec import parse_endpoint, parse_nnodes


@pytest.mark.parametrize(("text", "bounds"), [("1", (1, 1)), ("4", (4, 4)), ("1:4", (1, 4)), (" 2:2 ", (2, 2))])
def test_parse_nnodes_accepts_n_and_min_max(text, bounds):
    assert parse_nnodes(text) == bounds


@pytest.mark.parametrize("text", ["0", "abc", "3:2", "1:2:3", "", "-1", "0:2"])
def test_parse_nnodes_rejects(text):
    with pytest.raises(ConfigError):
        parse_nnodes(text)


def test_per_node_lists_broadcast_or_match_node_count():
    assert LaunchSpec(nnodes=3, nproc_per_node=2).nprocs == (2, 2, 2)
    assert LaunchSpec(nnodes=3, nproc_per_node=[1, 2, 3]).nprocs == (1, 2, 3)
    assert LaunchSpec(nnodes=3, nproc_per_node="1,2,3").nprocs == (1, 2, 3)
    with pytest.raises(ConfigError, match="lists 2 values but there are 3 nodes"):
        LaunchSpec(nnodes=3, nproc_per_node=[1, 2])


def test_repr_is_valid_python():
    spec = LaunchSpec(nnodes="1:2", nproc_per_node=[2, 3], hosts="a,b", launcher_env={"OMP_NUM_THREADS": "4"})
    assert eval(repr(spec), {"LaunchSpec": LaunchSpec}) == spec


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nnodes": 2, "node_rank": 2}, "out of range"),
        ({"master_port": 0}, "between 1 and 65535"),
        ({"master_port": 70000}, "between 1 and 65535"),
        ({"rdzv_backend": "zookeeper"}, "unknown --rdzv-backend"),
        ({"rdzv_backend": "etcd"}, "models only static and c10d"),
        ({"max_restarts": -1}, ">= 0"),
        ({"nproc_per_node": 0}, "at least 1"),
        ({"rdzv_conf": "join_timeout"}, "must have a value"),
        ({"rdzv_conf": "join_timeout=soon"}, "integer number of seconds"),
        ({"rdzv_endpoint": "host:99999"}, "between 0 and 65536"),
        ({"hosts": "a,b"}, "2 addresses but there are 1 nodes"),
        ({"no_python": True, "module": True}, "--no-python"),
    ],
)
def test_invalid_specs_raise_one_line_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        LaunchSpec(**kwargs)
    assert "\n" not in str(info.value)


def test_static_uses_master_addr_and_port():
    setup = resolve_rendezvous(LaunchSpec(nnodes=2, master_addr="10.0.0.1", master_port=1234))
    assert (setup.backend, setup.master_addr, setup.master_port, setup.run_id) == ("static", "10.0.0.1", 1234, "none")
    assert setup.timeout == 900


def test_static_default_port_is_29500_for_multi_node():
    assert resolve_rendezvous(LaunchSpec(nnodes=2)).master_port == 29500


def test_single_node_without_master_port_switches_to_c10d_in_2_13():
    setup = resolve_rendezvous(LaunchSpec(nnodes=1, nproc_per_node=2, master_addr="10.0.0.9"))
    assert (setup.backend, setup.mode, setup.master_port, setup.run_id) == ("c10d", "auto-c10d", None, None)
    assert setup.endpoint == "localhost:0"
    plan = make_plan(LaunchSpec(nnodes=1, nproc_per_node=2))
    assert plan.workers[0].env["MASTER_PORT"] is None
    assert any(w.code == "auto_c10d" for w in plan.warnings)


def test_single_node_with_master_port_stays_static():
    setup = resolve_rendezvous(LaunchSpec(nnodes=1, master_port=29501))
    assert (setup.backend, setup.master_addr, setup.master_port) == ("static", "127.0.0.1", 29501)


def test_standalone_ignores_explicit_rendezvous_options():
    setup = resolve_rendezvous(LaunchSpec(standalone=True, rdzv_backend="static", rdzv_id="mine", master_port=1))
    assert (setup.backend, setup.mode, setup.run_id) == ("c10d", "standalone", None)
    assert setup.ignored


def test_c10d_endpoint_default_port_and_ignored_node_rank():
    spec = LaunchSpec(nnodes=2, rdzv_backend="c10d", rdzv_endpoint="head", node_rank=1)
    setup = resolve_rendezvous(spec)
    assert (setup.endpoint_host, setup.endpoint_port, setup.timeout, setup.last_call_timeout) == ("head", 29400, 600, 30)
    codes = {w.code for w in make_plan(spec).warnings}
    assert "node_rank_ignored" in codes


def test_static_endpoint_without_port_uses_torch_message():
    with pytest.raises(ConfigError, match="port is missing in endpoint: head. Try to specify --master-port"):
        resolve_rendezvous(LaunchSpec(nnodes=2, rdzv_endpoint="head"))


def test_ipv6_endpoint():
    assert parse_endpoint("[::1]:1234", None) == ("::1", 1234)
    assert parse_endpoint("[::1]", 5) == ("::1", 5)
