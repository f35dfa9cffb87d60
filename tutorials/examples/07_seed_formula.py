"""Property-test a rank formula against simdist's plan, and let Hypothesis find where it breaks.

The seed tutorial says RANK = node_rank × nproc_per_node + local_rank. We check that
rule, and a corrected one, on launches drawn by simdist.testing.strategies.launch_specs.
"""

from hypothesis import Verbosity, given, settings

from simdist import make_plan
from simdist.testing.strategies import launch_specs

# Reproducible runs: a fixed search instead of a random one, no example database.
SETTINGS = settings(derandomize=True, database=None, max_examples=300, verbosity=Verbosity.quiet)


def seed_rank(node_rank: int, nproc_per_node: int, local_rank: int) -> int:
    """The seed tutorial's formula."""
    return node_rank * nproc_per_node + local_rank


def prefix_sum_rank(nprocs_by_group_rank: list[int], group_rank: int, local_rank: int) -> int:
    """torchrun's rule: the processes of every node with a lower GROUP_RANK, plus LOCAL_RANK."""
    return sum(nprocs_by_group_rank[:group_rank]) + local_rank


@SETTINGS
@given(launch_specs(max_nodes=4, max_nproc=4))
def test_seed_formula(spec):
    for worker in make_plan(spec).workers:
        nproc = int(worker.env["LOCAL_WORLD_SIZE"])
        expected = seed_rank(worker.node_rank, nproc, worker.local_rank)
        assert worker.rank == expected, (
            f"--nnodes {spec.nnodes} --nproc {','.join(map(str, spec.nprocs))} --rdzv-backend {spec.rdzv_backend}: "
            f"node_rank {worker.node_rank}, local_rank {worker.local_rank} gets RANK {worker.rank}, "
            f"the formula says {expected}"
        )


@SETTINGS
@given(launch_specs(max_nodes=4, max_nproc=4))
def test_prefix_sum_formula(spec):
    plan = make_plan(spec)
    nprocs = [node.nproc for node in plan.nodes_by_group_rank]
    for worker in plan.workers:
        assert worker.rank == prefix_sum_rank(nprocs, worker.group_rank, worker.local_rank)


for test in (test_seed_formula, test_prefix_sum_formula):
    try:
        test()
        print(f"{test.__name__}: passed")
    except AssertionError as failure:
        print(f"{test.__name__}: FAILED\n  {failure}")
