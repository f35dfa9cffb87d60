"""st.from_type(LaunchSpec) works out of the box: simdist registers a strategy through Hypothesis' entry point."""

from hypothesis import find, given, settings
from hypothesis import strategies as st

from simdist import LaunchSpec, make_plan

SETTINGS = settings(derandomize=True, database=None, max_examples=200)


@SETTINGS
@given(st.from_type(LaunchSpec))
def test_local_rank_fits_the_node(spec):
    """torchrun's LOCAL_RANK runs from 0 to LOCAL_WORLD_SIZE - 1 on every node."""
    for worker in make_plan(spec).workers:
        assert 0 <= worker.local_rank < int(worker.env["LOCAL_WORLD_SIZE"])


test_local_rank_fits_the_node()
print("test_local_rank_fits_the_node: passed")

# find() returns the simplest launch that satisfies a condition: here, unequal nodes.
spec = find(st.from_type(LaunchSpec), lambda s: len(set(s.nprocs)) > 1, settings=SETTINGS)
print(f"smallest heterogeneous launch: --nnodes {spec.nnodes} --nproc {','.join(map(str, spec.nprocs))}")
print("RANKs per node:", [list(node.ranks) for node in make_plan(spec).nodes])
