"""simulate(): a launch, and the program its workers run, on the virtual clock → a Trace."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .._errors import ConfigError
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
    script: str | Sequence[str] | None = None,
    module: bool = False,
    no_python: bool = False,
    scenario_options: ScenarioOptions | None = None,
    wall_timeout: float | None = None,
    op_cost: float = 0.0,
) -> Trace:
    """Simulate a launch; the same arguments always give the same :class:`Trace`.

    What the workers run: ``scenario`` (a built-in name, ``FILE.py:FUNC`` or a function
    taking ``dist``, run after ``init_process_group``), or ``script`` (a Python file and
    its arguments, ``["train.py", "--lr", "0.1"]``, or with ``module=True`` a module name,
    run unmodified as each rank's ``__main__``); with neither, every worker works for
    ``options.work`` seconds. ``seed``, ``start_times``, ``failures`` and ``node_ranks``
    override the same fields of ``options``. ``scenario_options`` sets the imitated
    backend, algorithm, timeouts and costs; ``wall_timeout`` bounds, in real seconds, how
    long a rank may run without yielding (default 60). ``op_cost`` is the virtual time each
    torch operator a rank runs costs (0: computing takes no time, only communication does).
    """
    base = options or SimOptions()
    options = dataclasses.replace(
        base,
        seed=base.seed if seed is None else seed,
        start_times=tuple(start_times) if start_times is not None else base.start_times,
        failures=tuple(parse_failure(f) if isinstance(f, str) else f for f in failures) or base.failures,
        node_ranks=tuple(node_ranks) if node_ranks is not None else base.node_ranks,
    )
    if scenario is not None and script is not None:
        raise ConfigError("give a scenario or a script, not both")
    if not 0 <= op_cost < float("inf"):
        raise ConfigError("the cost of an operator must be a finite number of seconds, not negative")
    if wall_timeout is not None and not 0 < wall_timeout < float("inf"):
        raise ConfigError("the wall-clock timeout must be a positive number of seconds")
    if scenario is None and script is None:
        sim = Simulation(spec, options)
        sim.start()
        sim.run()
        return finish(sim)
    from ._runner import DEFAULT_WALL_TIMEOUT, ProgramRunner
    from ._scenario import Scenario, ScenarioOptions, load_scenario
    from ._script import load_script

    if script is not None:
        words = (script,) if isinstance(script, str) else tuple(script)
        if not words:
            raise ConfigError("the script is empty: give a file (or a module with module=True) and its arguments")
        program = load_script(words[0], words[1:], is_module=module, no_python=no_python)
        described = {"name": program.display, "ref": " ".join(words), "kind": "script"}
    else:
        program = load_scenario(scenario) if isinstance(scenario, str) else Scenario(
            getattr(scenario, "__name__", "scenario"), getattr(scenario, "__name__", "scenario"), scenario
        )  # fmt: skip
        described = {"name": program.name, "ref": program.ref}
    settings = scenario_options or ScenarioOptions()
    sim = Simulation(spec, dataclasses.replace(options, pg_timeout=settings.pg_timeout))
    runner = ProgramRunner(sim, program, settings, wall_timeout=wall_timeout or DEFAULT_WALL_TIMEOUT, op_cost=op_cost)
    try:
        sim.program = runner
        sim.start()
        sim.run()
        trace = finish(sim)
    finally:
        runner.close()
    return dataclasses.replace(trace, scenario={**described, "backend": settings.backend,
                                                "algorithm": settings.algorithm, "pg_timeout": settings.pg_timeout},
                               cost_model=settings.cost.summary())  # which numbers timed the collectives
