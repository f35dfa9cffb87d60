"""Property-test a belief about restarts with arrival_schedules and failure_plans.

Belief: "with --max-restarts 1, a job survives any one worker being killed".
Hypothesis draws when each machine starts and when which worker dies, runs the
simulator, and shrinks what it finds to the smallest counterexample.
"""

from hypothesis import Verbosity, given, settings

from simdist import LaunchSpec, simulate
from simdist.testing.strategies import arrival_schedules, failure_plans

SETTINGS = settings(derandomize=True, database=None, max_examples=100, deadline=None, verbosity=Verbosity.quiet)


def one_restart_survives_one_worker_failure(spec: LaunchSpec):
    # failure_plans also kills whole machines (local_rank None); restarts cannot help there.
    worker_failures = failure_plans(spec, horizon=10, max_failures=1).filter(
        lambda plan: all(f.local_rank is not None for f in plan)
    )

    @SETTINGS
    @given(starts=arrival_schedules(spec.max_nodes, max_delay=5), failures=worker_failures)
    def test(starts, failures):
        trace = simulate(spec, start_times=starts, failures=failures)
        options = f"--start-times {','.join(f'{t:g}' for t in starts)} " + " ".join(f"--fail {f}" for f in failures)
        assert trace.outcome == "ok", f"smallest counterexample: {options}\n  → {trace.outcome}: {trace.diagnosis}"

    title = f"one restart survives one worker failure ({spec.rdzv_backend} rendezvous)"
    try:
        test()
        print(f"{title}: passed")
    except AssertionError as failure:
        print(f"{title}: FAILED\n  {failure}")


one_restart_survives_one_worker_failure(
    LaunchSpec(nnodes=2, nproc_per_node=2, master_addr="10.0.0.1", master_port=29400, max_restarts=1)
)
