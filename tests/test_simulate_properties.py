"""Properties of the simulated launch that torch 2.13's agents guarantee."""

import dataclasses

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simdist import LaunchSpec
from simdist import SimOptions, simulate
from simdist.testing.strategies import arrival_schedules, failure_plans, host_addresses, launch_specs

FAST = SimOptions(agent_startup=0.5, worker_startup=0.5, work=0.5)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assignments(trace):
    """{(node, attempt): (group_rank, first_rank, last_rank, world_size)} from ranks_assigned events."""
    return [(e.node, e.detail) for e in trace.of_kind("ranks_assigned")]


def _static(nodes, nprocs, **kw):
    return LaunchSpec(nnodes=nodes, nproc_per_node=nprocs, master_addr="127.0.0.1", master_port=29500, **kw)


@SETTINGS
@given(st.integers(1, 64), st.data())
def test_static_ranks_never_depend_on_arrival_order(nodes, data):
    """GROUP_RANK = --node-rank, whatever order the machines start in."""
    nprocs = data.draw(st.lists(st.integers(1, 4), min_size=nodes, max_size=nodes))
    spec = _static(nodes, nprocs, rdzv_conf="timeout=120")
    starts = data.draw(arrival_schedules(nodes, max_delay=60))
    trace = simulate(spec, start_times=starts, options=FAST)
    assert trace.outcome == "ok", trace.diagnosis
    for node, detail in _assignments(trace):
        assert detail["group_rank"] == node
        assert detail["ranks"][0] == sum(nprocs[:node])


@SETTINGS
@given(st.integers(2, 16), st.data())
def test_c10d_group_ranks_follow_sorted_descriptors(nodes, data):
    """c10d ranks agents by sorted (addr, pid, local_id), not by arrival."""
    hosts = data.draw(host_addresses(nodes))
    spec = LaunchSpec(nnodes=nodes, nproc_per_node=2, rdzv_backend="c10d", rdzv_endpoint=f"{hosts[0]}:29400", hosts=hosts)
    starts = data.draw(arrival_schedules(nodes, max_delay=20))
    trace = simulate(spec, seed=data.draw(st.integers(0, 2**16)), start_times=starts, options=FAST)
    assert trace.outcome == "ok", trace.diagnosis
    machines = {m["node"]: m for m in trace.to_dict()["machines"]}
    expected = sorted(machines, key=lambda i: (machines[i]["host"], machines[i]["pid"]))
    for node, detail in _assignments(trace):
        assert detail["group_rank"] == expected.index(node)


@SETTINGS
@given(launch_specs(max_nodes=8, max_nproc=4), st.integers(0, 2**16), st.data())
def test_every_completed_round_assigns_exactly_range_world_size(spec, seed, data):
    """After each rendezvous round the ranks handed out are exactly 0..WORLD_SIZE-1."""
    spec = dataclasses.replace(spec, hosts=None, master_addr="127.0.0.1") if spec.rdzv_backend == "static" else spec
    failures = data.draw(failure_plans(spec, horizon=10))
    trace = simulate(spec, seed=seed, failures=failures, options=FAST)
    rounds: dict[tuple, list] = {}
    for node, detail in _assignments(trace):
        rounds.setdefault((detail["world_size"], detail["restart_count"], detail["group_world_size"]), []).append(detail)
    for (world, _, groups), details in rounds.items():
        complete = {d["group_rank"] for d in details} == set(range(groups))
        if complete and len(details) == groups:
            ranks = sorted(r for d in details for r in range(d["ranks"][0], d["ranks"][1] + 1))
            assert ranks == list(range(world))


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 30), st.data())
def test_static_outcome_is_ok_iff_every_node_arrives_before_the_timeout(nodes, timeout, data):
    """Static: node 0 waits `timeout` s for the others; later arrivals fail the launch."""
    spec = _static(nodes, 1, rdzv_conf=f"timeout={timeout}")
    starts = data.draw(arrival_schedules(nodes, max_delay=2 * timeout, resolution=0.25))
    trace = simulate(spec, start_times=starts, options=FAST)
    # node 0 binds at start0 + startup and waits `timeout`; client i connects at start_i + startup.
    assume(all(abs(abs(s - starts[0]) - timeout) > 0.01 for s in starts))  # exact ties race
    in_time = all(abs(s - starts[0]) < timeout for s in starts)
    assert (trace.outcome == "ok") == in_time, (starts, trace.diagnosis)


@SETTINGS
@given(st.integers(1, 4), st.integers(0, 3), st.data())
def test_restarts_never_exceed_max_restarts(nodes, max_restarts, data):
    spec = _static(nodes, 2, max_restarts=max_restarts)
    failures = data.draw(failure_plans(spec, horizon=8, max_failures=3))
    trace = simulate(spec, failures=failures, options=FAST)
    per_node: dict[int, int] = {}
    for event in trace.of_kind("group_restart"):
        if event.detail["reason"] == "failed":
            per_node[event.node] = per_node.get(event.node, 0) + 1
    assert all(count <= max_restarts for count in per_node.values())
    for node, detail in _assignments(trace):
        assert detail["restart_count"] <= max_restarts


@settings(max_examples=25, deadline=None)
@given(launch_specs(max_nodes=6, max_nproc=3), st.integers(0, 2**32 - 1))
def test_same_seed_same_bytes(spec, seed):
    first = simulate(spec, seed=seed, options=FAST).to_json()
    assert simulate(spec, seed=seed, options=FAST).to_json() == first


def test_a_seed_in_the_options_is_used_unless_the_argument_overrides_it():
    spec = _static(4, 1)
    from_options = simulate(spec, options=dataclasses.replace(FAST, seed=7)).to_json()
    assert from_options == simulate(spec, seed=7, options=FAST).to_json()
    assert from_options != simulate(spec, seed=8, options=dataclasses.replace(FAST, seed=7)).to_json()


def test_different_seeds_show_different_arrival_orders():
    spec = _static(4, 1)
    orders = set()
    for seed in range(10):
        trace = simulate(spec, seed=seed)
        orders.add(tuple(e.node for e in trace.of_kind("agent_start")))
    assert len(orders) > 1
