"""Properties of rank assignment that torchrun's elastic agent guarantees."""

from hypothesis import given, settings
from hypothesis import strategies as st

from simdist import LaunchSpec, make_plan
from simdist.testing.strategies import launch_specs


def _identical(spec: LaunchSpec) -> bool:
    return spec.env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1"


@given(launch_specs())
def test_ranks_are_a_bijection_onto_range_world_size(spec):
    """Every global rank 0..WORLD_SIZE-1 is given to exactly one worker."""
    plan = make_plan(spec)
    ranks = [w.rank for w in plan.workers]
    assert sorted(ranks) == list(range(plan.world_size))
    assert plan.world_size == sum(spec.nprocs)


@given(launch_specs())
def test_each_node_holds_a_contiguous_block_ordered_by_local_rank(spec):
    """A node's workers have consecutive RANKs, in LOCAL_RANK order, after the lower group ranks."""
    plan = make_plan(spec)
    expected_base = 0
    for node in plan.nodes_by_group_rank:
        workers = [plan.workers[r] for r in node.ranks]
        assert [w.local_rank for w in workers] == list(range(node.nproc))
        assert [w.rank for w in workers] == list(range(expected_base, expected_base + node.nproc))
        assert all(w.node_rank == node.node_rank and w.group_rank == node.group_rank for w in workers)
        expected_base += node.nproc


@given(st.integers(1, 16), st.integers(1, 8), st.data())
def test_homogeneous_rank_formula(nnodes, nproc, data):
    """The seed's RANK = node_rank × nproc_per_node + local_rank holds for static, equal nodes."""
    spec = LaunchSpec(nnodes=nnodes, nproc_per_node=nproc, master_addr="10.0.0.1")
    plan = make_plan(spec)
    rank = data.draw(st.integers(0, plan.world_size - 1))
    worker = plan.workers[rank]
    assert worker.rank == worker.node_rank * nproc + worker.local_rank
    assert plan.rank_formula(worker) == f"{worker.node_rank} × {nproc} + {worker.local_rank}"


@given(st.lists(st.integers(1, 8), min_size=1, max_size=12), st.data())
def test_heterogeneous_rank_is_sum_of_lower_nodes_plus_local_rank(nprocs, data):
    """RANK = Σ nproc of nodes with a lower group rank + LOCAL_RANK (torch's slow path)."""
    spec = LaunchSpec(nnodes=len(nprocs), nproc_per_node=nprocs, master_addr="10.0.0.1")
    plan = make_plan(spec)
    rank = data.draw(st.integers(0, plan.world_size - 1))
    worker = plan.workers[rank]
    assert worker.rank == sum(nprocs[: worker.group_rank]) + worker.local_rank
    assert worker.env["LOCAL_WORLD_SIZE"] == str(nprocs[worker.node_rank])


@given(launch_specs())
def test_every_env_value_agrees_with_the_others(spec):
    """The env of each worker is internally consistent and matches its plan entry."""
    plan = make_plan(spec)
    roles = {}
    for node in plan.nodes:
        roles[node.role] = roles.get(node.role, 0) + node.nproc
    for worker in plan.workers:
        env = worker.env
        node = plan.node(worker.node_rank)
        assert env["RANK"] == str(worker.rank)
        assert env["GROUP_RANK"] == str(worker.group_rank)
        assert env["GROUP_WORLD_SIZE"] == str(len(plan.nodes))
        assert env["LOCAL_WORLD_SIZE"] == str(node.nproc)
        assert int(env["ROLE_RANK"]) < int(env["ROLE_WORLD_SIZE"])
        assert env["ROLE_NAME"] == node.role
        assert env["TORCHELASTIC_MAX_RESTARTS"] == str(spec.max_restarts)
        assert env["TORCHELASTIC_RESTART_COUNT"] == "0"
        if not _identical(spec):
            assert env["WORLD_SIZE"] == str(plan.world_size)
            assert env["ROLE_WORLD_SIZE"] == str(roles[node.role])
        if spec.virtual_local_rank:
            assert env["LOCAL_RANK"] == "0"
        else:
            assert env["LOCAL_RANK"] == str(worker.local_rank)
        assert (env.get("OMP_NUM_THREADS") is not None) == ("OMP_NUM_THREADS" in spec.env or node.nproc > 1)
        static = plan.rendezvous.backend == "static"
        assert (env["MASTER_PORT"] is not None) == static
        assert env["TORCHELASTIC_USE_AGENT_STORE"] == str(static or "TORCH_DISABLE_SHARE_RDZV_TCP_STORE" not in spec.env)


@given(launch_specs())
def test_physical_gpu_follows_cuda_visible_devices(spec):
    """set_device(LOCAL_RANK) picks the LOCAL_RANK-th visible GPU; past the end there is none."""
    plan = make_plan(spec)
    for worker in plan.workers:
        node = plan.node(worker.node_rank)
        visible = node.visible_devices.split(",") if node.visible_devices else None
        if visible is None:
            expected = worker.local_rank if worker.local_rank < node.gpu_count else None
        else:
            expected = int(visible[worker.local_rank]) if worker.local_rank < len(visible) else None
        assert worker.gpu == expected
        if expected is None:
            assert any(w.code == "more_procs_than_gpus" for w in plan.warnings)


@given(launch_specs(backends=("static",)), st.permutations(range(8)))
def test_static_group_rank_is_node_rank(spec, _arrival):
    """Under static rendezvous GROUP_RANK is --node-rank, whatever happens at run time."""
    plan = make_plan(spec)
    assert all(n.group_rank == n.node_rank for n in plan.nodes)


@given(launch_specs(backends=("c10d",)))
def test_c10d_group_ranks_follow_sorted_hosts(spec):
    """c10d ranks agents by their sorted descriptor (address first), not by --node-rank."""
    plan = make_plan(spec)
    ordered = [n.host for n in plan.nodes_by_group_rank]
    if spec.hosts is not None and plan.rendezvous.mode == "explicit":
        assert ordered == sorted(spec.hosts)
        assert plan.workers[0].env["MASTER_ADDR"] == sorted(spec.hosts)[0]


@settings(max_examples=30)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=6))
def test_worker_identical_fast_path_uses_own_nproc(nprocs):
    """TORCH_ELASTIC_WORKER_IDENTICAL=1: RANK = GROUP_RANK × LOCAL_WORLD_SIZE + LOCAL_RANK (no store)."""
    spec = LaunchSpec(
        nnodes=len(nprocs), nproc_per_node=nprocs, master_addr="h", launcher_env={"TORCH_ELASTIC_WORKER_IDENTICAL": "1"}
    )
    plan = make_plan(spec)
    for node in plan.nodes:
        env = plan._worker(node, 0).env
        assert env["RANK"] == str(node.group_rank * node.nproc)
        assert env["WORLD_SIZE"] == str(len(nprocs) * node.nproc)
        assert env["ROLE_RANK"] == env["RANK"]
    assert any(w.code == "worker_identical_heterogeneous" for w in plan.warnings) == (len(set(nprocs)) > 1)
