"""simdist.testing: strategies users can import, registered with Hypothesis' entry point."""

from hypothesis import given
from hypothesis import strategies as st

from simdist import LaunchSpec, make_plan


@given(st.from_type(LaunchSpec))
def test_from_type_draws_valid_launch_specs(spec):
    plan = make_plan(spec)
    assert sorted(w.rank for w in plan.workers) == list(range(plan.world_size))


def test_strategies_module_exports():
    import simdist.testing.strategies as strategies

    assert set(strategies.__all__) == {
        "arrival_schedules", "failure_plans", "host_addresses", "launch_specs", "nproc_lists",
    }  # fmt: skip


def test_the_torch_free_list_of_builtin_scenario_names_matches_the_scenarios_module():
    from simdist.program import scenarios
    from simdist.program._scenario import BUILTIN_NAMES

    assert tuple(scenarios.BUILTIN) == BUILTIN_NAMES
