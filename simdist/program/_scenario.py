"""Scenarios: ordinary ``torch.distributed`` code, run rank by rank on the virtual clock.

A scenario is ``def scenario(dist): ...`` — ``dist`` is ``torch.distributed`` itself,
already initialised for the rank (``init_process_group`` done, as torchrun's workers
would do it). Each rank runs on its own greenlet; when it blocks in a collective it
yields to the kernel, which resumes it when the collective completes. Ranks that
can run at the same virtual time run one at a time, in an order drawn from the seed.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..collectives._algorithms import ALL_REDUCE_ALGORITHMS, CostModel
from .._errors import ConfigError

if TYPE_CHECKING:
    from ..sim._agent import Agent, WorkerRun
    from ..sim._simulation import Simulation
    from ..sim._world import World

__all__ = ["BUILTIN_NAMES", "Scenario", "ScenarioOptions", "load_scenario", "scenario_program"]

# The names in simdist.program.scenarios, listed here so that checking a name needs no torch
# (a test keeps the two in step).
BUILTIN_NAMES = (
    "env", "allreduce", "broadcast", "allgather", "reduce_scatter", "all_to_all", "gather", "scatter", "reduce",
    "barrier", "ring", "subgroups", "objects", "training", "broken_order", "broken_shape", "broken_skip", "broken_recv",
)  # fmt: skip


def check_scenario_ref(ref: str) -> None:
    """Fail early, without importing torch, on a scenario that cannot exist."""
    if ":" not in ref:
        if ref not in BUILTIN_NAMES:
            raise ConfigError(f"unknown scenario {ref!r}; built-in ones: {', '.join(sorted(BUILTIN_NAMES))}; "
                              "or give FILE.py:FUNCTION")  # fmt: skip
        return
    path_text, _, func_name = ref.rpartition(":")
    if not Path(path_text).is_file():
        raise ConfigError(f"scenario file {path_text!r} does not exist")
    if not func_name.isidentifier():
        raise ConfigError(f"{func_name!r} is not a function name")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named scenario function; ``ref`` is how to find it again (``NAME`` or ``FILE.py:FUNC``)."""

    name: str
    ref: str
    func: Callable[[Any], Any]
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioOptions:
    """How the simulated process groups behave."""

    backend: str = "gloo"  # which backend to imitate: gloo or nccl
    algorithm: str = "auto"  # all_reduce algorithm: auto (cheapest), ring, tree, recursive_doubling
    timeout: float | None = None  # init_process_group timeout; None: the backend's default
    trace_steps: bool = True  # record every algorithm step in the trace
    exact_steps: bool = False  # move the data chunk by chunk along the schedule (floats: the algorithm's order)
    cost: CostModel = CostModel()  # link latencies and bandwidths that time every step
    # A measured profile (a simdist.profile/1 file, a Profile, or its cost model): its α and β time the
    # collectives instead of ``cost``.
    profile: Any = None

    def __post_init__(self) -> None:
        if self.profile is not None and not _is_profile_cost(self.cost):
            if self.cost != CostModel():
                raise ConfigError("give either a measured profile or a cost model, not both")
            object.__setattr__(self, "cost", _profile_cost(self.profile))
        if self.backend not in ("gloo", "nccl"):
            raise ConfigError(f"unknown backend {self.backend!r}: simdist simulates gloo and nccl")
        if self.algorithm not in ("auto", *ALL_REDUCE_ALGORITHMS):
            choices = ", ".join(("auto", *ALL_REDUCE_ALGORITHMS))
            raise ConfigError(f"unknown algorithm {self.algorithm!r}: {choices}")
        if self.timeout is not None and not 0 < self.timeout < float("inf"):
            raise ConfigError("the process-group timeout must be a positive number of seconds")

    @property
    def pg_timeout(self) -> float:
        if self.timeout is not None:
            return self.timeout
        return 600.0 if self.backend == "nccl" else 1800.0  # torch's defaults


def _is_profile_cost(cost: CostModel) -> bool:
    from ..collectives._profile import ProfileCostModel

    return isinstance(cost, ProfileCostModel)


def _profile_cost(profile: Any) -> CostModel:
    """The cost model of a profile given as a Profile, or as the path of its file."""
    from ..collectives._profile import Profile, ProfileCostModel, load_profile

    if isinstance(profile, ProfileCostModel):
        return profile
    if isinstance(profile, Profile):
        return profile.cost_model()
    if isinstance(profile, (str, os.PathLike)):
        return load_profile(profile).cost_model(origin=os.fspath(profile))
    raise ConfigError(f"profile must be a simdist.profile/1 file or a Profile, not {type(profile).__name__}")


def load_scenario(ref: str) -> Scenario:
    """A built-in scenario by name, or ``path/to/file.py:function``."""
    from . import scenarios

    check_scenario_ref(ref)
    if ":" not in ref:
        func = scenarios.BUILTIN[ref]
        return Scenario(ref, ref, func, (func.__doc__ or "").strip().splitlines()[0])
    path_text, _, func_name = ref.rpartition(":")
    path = Path(path_text)
    spec = importlib.util.spec_from_file_location(f"simdist_scenario_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path_text!r} as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report what went wrong in one line
        raise ConfigError(f"importing {path_text} failed: {type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ConfigError(f"{path_text} has no function {func_name!r}")
    return Scenario(func_name, ref, func, ((func.__doc__ or "").strip().splitlines() or [""])[0])


class _EnvSwitcher:
    """Keeps ``os.environ`` showing the running rank's torchrun variables.

    Scenarios may read ``os.environ["LOCAL_RANK"]`` as real workers do; only the keys
    that differ between ranks are rewritten on each switch.
    """

    def __init__(self) -> None:
        self.current: dict[str, str] = {}
        self.saved: dict[str, str | None] = {}

    def apply(self, env: dict[str, str | None]) -> None:
        for key, value in env.items():
            if value is None or self.current.get(key) == value:
                continue
            if key not in self.saved:
                self.saved[key] = os.environ.get(key)
            os.environ[key] = value
            self.current[key] = value

    def restore(self) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.saved.clear()
        self.current.clear()


class ScenarioRunner:
    """Everything one simulation needs to run scenarios: torch set up once, per-rank state."""

    def __init__(self, sim: Simulation, scenario: Scenario, options: ScenarioOptions) -> None:
        import torch.distributed as dist

        from ..collectives import _torch_world

        self.sim = sim
        self.scenario = scenario
        self.options = options
        self.dist = dist
        self.store = dist.HashStore()
        self.env = _EnvSwitcher()
        self.runtimes: dict[Any, Any] = {}
        self._install = _torch_world.install()
        self._install.__enter__()
        _torch_world.set_backend_factory(self._create_pg)
        self._real_sleep = time.sleep
        time.sleep = self._sleep  # a rank's time.sleep(s) passes s of virtual time

    def close(self) -> None:
        time.sleep = self._real_sleep
        self._install.__exit__(None, None, None)
        self.env.restore()

    def _sleep(self, seconds: float) -> None:
        """``time.sleep`` for scenarios: compute or I/O time on the virtual clock (real elsewhere)."""
        import greenlet

        runtime = self.runtimes.get(greenlet.getcurrent())
        if runtime is None:
            return self._real_sleep(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        runtime.glet.parent.switch(("wait", self.sim.kernel.timeout(seconds)))

    def _create_pg(self, store, rank, size, timeout):
        import greenlet

        from ..collectives._process_group import SimProcessGroup

        return SimProcessGroup(self.runtimes[greenlet.getcurrent()], rank, size)

    def engine_for(self, world: World):
        if world.engine is None:
            from ..collectives._engine import CollectiveEngine

            o = self.options
            world.engine = CollectiveEngine(self.sim, world, o.backend, o.algorithm, o.cost, o.pg_timeout,
                                            o.trace_steps, o.exact_steps)  # fmt: skip
        return world.engine


def scenario_program(runner: ScenarioRunner):
    """The worker program for :class:`Simulation`: runs the scenario on a greenlet per rank."""

    def program(sim: Simulation, agent: Agent, worker: WorkerRun, world: World):
        import greenlet

        from ..collectives import _torch_world
        from ..collectives._process_group import ProcessAborted, RankRuntime
        from ..sim._world import WorkerError

        engine = runner.engine_for(world)
        runtime = RankRuntime(engine, worker.rank, runner.options.backend)
        size = world.size
        env = worker.env
        timeout = timedelta(seconds=runner.options.pg_timeout)

        def body():
            _torch_world.init_rank(worker.rank, size, runner.store, timeout)
            return runner.scenario.func(runner.dist)

        glet = greenlet.greenlet(body)
        runtime.glet = glet
        runner.runtimes[glet] = runtime
        _torch_world.new_rank_world(glet, worker.rank)
        engine.rank_started(worker.rank, agent.machine.index)
        result: Any = None
        reply: Any = None
        try:
            while True:
                runner.env.apply(env)
                try:
                    request = glet.switch(reply) if reply is not None else glet.switch()
                except ProcessAborted as abort:
                    error = WorkerError("SIGABRT", str(abort))
                    error.exit_code = -6
                    raise error from None
                except Exception as exc:
                    error = WorkerError(type(exc).__name__, error_line(exc))
                    error.alternatives = engine.alternatives.get(worker.rank, [])
                    raise error from None
                if glet.dead:
                    result = request  # the scenario's return value
                    break
                _, event = request
                try:
                    yield event
                except WorkerError:
                    pass  # the rank sees the failure in its own stack, via the event
                reply = ("resume",)
        finally:
            if glet.dead or not glet:
                runner.runtimes.pop(glet, None)
        engine.rank_finished(worker.rank)
        return plain_result(result)

    return program


NUMPY_HINT = "numpy is not installed: torch's *_object collectives need it (pip install numpy)"


def error_line(exc: BaseException) -> str:
    """An exception's message on one line, with a hint where torch's own is cryptic."""
    return explain_error(" ".join(str(exc).split()))


def explain_error(message: str) -> str:
    """torch's message, with a hint where torch's own is cryptic."""
    if "Numpy is not available" in message or "No module named 'numpy'" in message:
        return f"{message} ({NUMPY_HINT})"
    return message


def plain_result(value: Any) -> Any:
    """A JSON-friendly copy of a scenario's return value (tensors, wherever they live, become lists)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {str(k): plain_result(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_result(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)

