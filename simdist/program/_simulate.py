"""simulate(): a launch, and the program its workers run, on the virtual clock → a Trace."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..documents._trace import Trace
from ..launch._spec import LaunchSpec
from ..sim._diagnose import finish
from ..sim._simulation import Failure, SimOptions, Simulation, parse_failure

if TYPE_CHECKING:
    from ._scenario import ScenarioOptions

__all__ = ["simulate"]


def simulate(
    spec: LaunchSpec,
    *,
    seed: int | None = None,
    start_times: Sequence[float] | None = None,
    failures: Sequence[Failure | str] = (),
    node_ranks: Sequence[int] | None = None,
    options: SimOptions | None = None,
    scenario: str | Callable | None = None,
    scenario_options: ScenarioOptions | None = None,
) -> Trace:
    """Simulate a launch; the same arguments always give the same :class:`Trace`.

    ``seed``, ``start_times``, ``failures`` and ``node_ranks`` override the same fields of
    ``options`` when given. ``scenario`` (a built-in name, ``FILE.py:FUNC`` or a function
    taking ``dist``) runs on every worker after ``init_process_group``; without one, every
    worker works for ``options.work`` seconds. ``scenario_options`` is a
    :class:`ScenarioOptions` (backend, algorithm, timeouts, costs).
    """
    base = options or SimOptions()
    options = dataclasses.replace(
        base,
        seed=base.seed if seed is None else seed,
        start_times=tuple(start_times) if start_times is not None else base.start_times,
        failures=tuple(parse_failure(f) if isinstance(f, str) else f for f in failures) or base.failures,
        node_ranks=tuple(node_ranks) if node_ranks is not None else base.node_ranks,
    )
    if scenario is None:
        sim = Simulation(spec, options)
        sim.start()
        sim.run()
        return finish(sim)
    from ._scenario import Scenario, ScenarioOptions, ScenarioRunner, load_scenario, scenario_program

    chosen = load_scenario(scenario) if isinstance(scenario, str) else Scenario(
        getattr(scenario, "__name__", "scenario"), getattr(scenario, "__name__", "scenario"), scenario
    )
    settings = scenario_options or ScenarioOptions()
    sim = Simulation(spec, dataclasses.replace(options, pg_timeout=settings.pg_timeout))
    runner = ScenarioRunner(sim, chosen, settings)
    try:
        sim.program = scenario_program(runner)
        sim.start()
        sim.run()
        trace = finish(sim)
    finally:
        runner.close()
    return dataclasses.replace(trace, scenario={"name": chosen.name, "ref": chosen.ref, "backend": settings.backend,
                                                "algorithm": settings.algorithm, "pg_timeout": settings.pg_timeout})
