"""Common launch mistakes behave in the simulator as they did under real torchrun 2.13.

Each expectation below was observed with two or three real torchrun agents on
127.0.0.1 (gloo); the messages are torch's, verbatim.
"""

from simdist import LaunchSpec, SimOptions, simulate

FAST = SimOptions(agent_startup=0.5, worker_startup=0.5, work=2.0)


def _spec(**kw):
    return LaunchSpec(nnodes=2, nproc_per_node=1, master_port=29631, rdzv_conf={"timeout": 5}, **kw)


def _errors(trace):
    return {e.node: f"{e.detail['error']}: {e.detail['message']}" for e in trace.of_kind("agent_error")}


def test_duplicate_node_rank_0_on_one_host_cannot_bind():
    trace = simulate(_spec(), node_ranks=(0, 0), start_times=(0, 1), options=FAST)
    errors = _errors(trace)
    assert errors[1] == (
        "DistNetworkError: The server socket has failed to listen on any local network address. "
        "port: 29631, useIpv6: false, code: -98, name: EADDRINUSE, message: address already in use"
    )
    assert errors[0] == "DistStoreError: Timed out after 6 seconds waiting for clients. 1/2 clients joined."


def test_duplicate_node_rank_1_runs_one_copy_and_fails_the_other():
    trace = simulate(_spec(), node_ranks=(0, 1, 1), start_times=(0, 0.5, 1.0), options=FAST)
    exits = {e.node: e.detail["code"] for e in trace.of_kind("agent_exit")}
    assert exits == {0: 0, 1: 0, 2: 1}
    assigned = [e.detail["ranks"] for e in trace.of_kind("ranks_assigned") if e.node in (1, 2)]
    assert assigned == [[1, 1], [1, 1]]  # nothing detects the duplicate: same RANK twice
    assert trace.outcome == "worker_failed"


def test_node_rank_beyond_nnodes_times_out_while_assigning_ranks():
    trace = simulate(_spec(), node_ranks=(0, 2), start_times=(0, 0), options=FAST)
    assert _errors(trace) == {
        0: "DistStoreError: wait timeout after 5000ms, keys: /none/torchelastic/role_info/0, /none/torchelastic/role_info/1",
        1: "DistStoreError: wait timeout after 5000ms, keys: /none/torchelastic/assigned_ranks/2",
    }


def test_master_addr_that_no_node_owns_fails_every_node_including_node_0():
    spec = _spec(master_addr="10.9.9.9", hosts=("10.0.0.1", "10.0.0.2"))
    trace = simulate(spec, start_times=(0, 0), options=FAST)
    message = "DistNetworkError: The client socket has timed out after 5000ms while trying to connect to (10.9.9.9, 29631)."
    assert _errors(trace) == {0: message, 1: message}


def test_c10d_min_max_closes_after_last_call_with_the_nodes_present():
    spec = LaunchSpec(nnodes="1:2", nproc_per_node=2, rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:29400",
                      rdzv_conf={"last_call_timeout": 2})  # fmt: skip
    trace = simulate(spec, start_times=(0, float("inf")), options=FAST)
    assert trace.outcome == "ok"
    joined = trace.of_kind("rdzv_join")[0].t
    done = trace.of_kind("rdzv_complete")[0].t
    assert 2.0 <= done - joined <= 3.0  # last call, plus at most one state sync
    assert trace.plan.world_size == 2


def test_c10d_below_min_raises_a_bare_rendezvous_timeout():
    spec = LaunchSpec(nnodes="2:3", rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:29400",
                      rdzv_conf={"join_timeout": 5, "last_call_timeout": 2})  # fmt: skip
    trace = simulate(spec, start_times=(0, float("inf"), float("inf")), options=FAST)
    (error,) = trace.of_kind("agent_error")
    assert (error.detail["error"], error.detail["message"]) == ("RendezvousTimeoutError", "")
    assert "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError" in trace.diagnosis


def test_c10d_worker_failure_restarts_everyone_but_counts_only_on_the_failing_node():
    spec = LaunchSpec(nnodes=2, nproc_per_node=1, rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:29400",
                      max_restarts=1, rdzv_conf={"last_call_timeout": 2})  # fmt: skip
    trace = simulate(spec, start_times=(0, 0), failures=["1:0@3"], options=FAST)
    assert trace.outcome == "ok", trace.diagnosis
    restarts = [(e.node, e.detail["reason"]) for e in trace.of_kind("group_restart")]
    assert restarts == [(1, "failed"), (0, "membership_change")]
    final = {e.node: e.detail for e in trace.of_kind("ranks_assigned")}
    assert (final[0]["restart_count"], final[1]["restart_count"]) == (0, 1)
    assert final[0]["round"] == final[1]["round"] == 1


def test_c10d_store_host_dying_fails_the_survivor_with_a_connection_error():
    spec = LaunchSpec(nnodes="1:2", nproc_per_node=1, rdzv_backend="c10d", rdzv_endpoint="10.0.0.1:29400",
                      hosts=("10.0.0.1", "10.0.0.2"), max_restarts=1)  # fmt: skip
    trace = simulate(spec, start_times=(0, 0), failures=["0@5"], options=SimOptions(work=30.0))
    errors = _errors(trace)
    assert errors == {1: "RendezvousConnectionError: The connection to the C10d store has failed. See inner exception for details."}


def test_a_node_leaving_an_elastic_job_shrinks_it():
    """c10d MIN:MAX: when a node dies mid-training the survivors restart (counted), wait for the dead
    node's keep-alive to expire (15 s), then the last call, and carry on with a smaller world."""
    spec = LaunchSpec(nnodes="1:2", nproc_per_node=2, rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:29400",
                      max_restarts=1)  # fmt: skip
    trace = simulate(spec, start_times=(0, 0), failures=["1@3"], scenario="training")
    assert trace.outcome == "ok", trace.diagnosis
    assigned = [e for e in trace.of_kind("ranks_assigned") if e.node == 0]
    first, last = assigned[0].detail, assigned[-1].detail
    assert (first["world_size"], last["world_size"]) == (4, 2)
    assert last["restart_count"] == 1 and last["round"] == first["round"] + 1
    (dead,) = trace.of_kind("rdzv_dead_node")
    assert dead.t >= 15.0
    assert assigned[-1].t - dead.t >= 30.0  # last_call_timeout for a round below max_nodes
    assert [r.result for r in trace.results if r.node == 0] == [1.0, 1.0]  # node 1 died: no result


def test_time_sleep_in_a_scenario_passes_virtual_time():
    spec = LaunchSpec(nnodes=1, nproc_per_node=2, master_port=29500)
    trace = simulate(spec, start_times=(0,), scenario="training")
    collectives = trace.of_kind("collective")
    assert len(collectives) == 5
    gaps = [b.detail["start"] - a.detail["end"] for a, b in zip(collectives, collectives[1:])]
    assert all(abs(gap - 0.2) < 1e-6 for gap in gaps)  # each step "computes" for 0.2 s


def test_c10d_job_launched_after_the_previous_one_ended_forms_a_fresh_job():
    """Real torchrun: two agents finish on 127.0.0.1:PORT; two more launched later on the same
    endpoint host a new store and form their own WORLD_SIZE=2 job, from round 0 again."""
    spec = LaunchSpec(nnodes="1:4", nproc_per_node=1, rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:29400",
                      rdzv_conf={"last_call_timeout": 1})  # fmt: skip
    trace = simulate(spec, start_times=(0, 0.5, 60, 60.5), options=FAST)
    assert trace.outcome == "ok", trace.diagnosis
    ranks = sorted((e.node, e.detail["round"], e.detail["store"]) for e in trace.of_kind("ranks_assigned"))
    assert ranks == [(0, 0, 0), (1, 0, 0), (2, 0, 1), (3, 0, 1)]
    assert {e.node: e.detail["code"] for e in trace.of_kind("agent_exit")} == {0: 0, 1: 0, 2: 0, 3: 0}
    assert "2 separate jobs" in trace.diagnosis and trace.diagnosis.count("WORLD_SIZE=2") == 2


def test_the_trace_records_the_env_each_worker_really_received_after_a_partial_restart():
    """Static, 2 machines × 1: only machine 1's worker fails and restarts; machine 0's never does."""
    spec = LaunchSpec(nnodes=2, nproc_per_node=1, master_port=29500, max_restarts=1)
    trace = simulate(spec, failures=["1:0@2.6"], options=SimOptions(work=3.0), start_times=(0.0, 0.0))
    assert trace.outcome == "ok", trace.diagnosis
    counts = {w.rank: w.env["TORCHELASTIC_RESTART_COUNT"] for w in trace.plan.workers}
    assert counts == {0: "0", 1: "1"}
    spawned = {(e.rank, e.detail["attempt"]) for e in trace.of_kind("worker_spawn")}
    assert spawned == {(0, 0), (1, 0), (1, 1)}  # the env agrees with the workers the agents started
    assert trace.plan.restart_count == 1  # the plan's summary: the most restarts any node made


def test_c10d_agents_waiting_in_a_round_fail_to_connect_when_the_store_host_dies():
    """The machine hosting the c10d store dies during the last call: the others' store calls fail."""
    spec = LaunchSpec(nnodes="1:3", nproc_per_node=1, rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:29400",
                      rdzv_conf={"join_timeout": 10, "last_call_timeout": 5})  # fmt: skip
    trace = simulate(spec, start_times=(0.0, 0.5, float("inf")), failures=["0@3"], seed=3)
    errors = [(e.node, e.detail["error"]) for e in trace.of_kind("agent_error")]
    assert errors == [(1, "RendezvousConnectionError")]
    assert trace.outcome == "rendezvous_timeout" and "Root cause: node 0 died." in trace.diagnosis
