"""simdist: see what torchrun will do before you spend GPU hours.

The layers, bottom-up (each imports only those below it; ``pyproject.toml``'s
import-linter contracts enforce it):

- ``simdist._errors``: every error, drawn as one tree;
- ``simdist.documents``: the typed ``PlanDocument``, ``Trace`` and ``Report`` and their JSON;
- ``simdist.launch``: LaunchSpec → Plan, torch 2.13's rule book (standard library only);
- ``simdist.sim``: the launch on a virtual clock (kernel, store, rendezvous, agents);
- ``simdist.collectives``: collectives over torch tensors (torch, loaded lazily);
- ``simdist.program``: what runs on a rank, and ``simulate()``;
- surfaces: ``simdist.cli`` (typer + rich), ``simdist.plot`` (matplotlib),
  ``simdist.real`` (real torchrun), ``simdist.testing`` (Hypothesis).

``import simdist`` stays instant: the surfaces and the simulator load on first use.
"""

from ._errors import (
    ConfigError,
    EmptySchedule,
    RealModeError,
    RealModeUnavailable,
    RealRunFailed,
    SimdistError,
    SimulatedTorchError,
    SimulationError,
)
from .launch._make import make_plan
from .launch._plan import NodePlan, Plan, PlanWarning, WorkerPlan
from .launch._spec import LaunchSpec, RendezvousSetup, resolve_rendezvous

__all__ = [
    "ConfigError",
    "CostModel",
    "EmptySchedule",
    "Failure",
    "LaunchSpec",
    "NodePlan",
    "Plan",
    "PlanDocument",
    "PlanWarning",
    "Profile",
    "RankResult",
    "RealModeError",
    "RealModeUnavailable",
    "RealRunFailed",
    "RendezvousSetup",
    "Report",
    "ScenarioOptions",
    "SimOptions",
    "SimdistError",
    "SimulatedTorchError",
    "SimulationError",
    "Trace",
    "TraceEvent",
    "WorkerPlan",
    "load_document",
    "load_profile",
    "make_plan",
    "parse_torchrun_args",
    "resolve_rendezvous",
    "simulate",
    "spec_from_command",
]

# The public subpackages: the surfaces load on first use, the layers on import.
_SUBPACKAGES = ("cli", "collectives", "documents", "launch", "plot", "program", "real", "sim", "testing")
_LAZY_SUBMODULES = ("plot", "real", "testing")
# Loaded on first use: the command-line parser (argparse), and the simulator, which
# `simdist explain` never needs.
_LAZY_NAMES = {
    "parse_torchrun_args": "launch._torchrun_args",
    "spec_from_command": "launch._torchrun_args",
    "simulate": "program._simulate",
    "SimOptions": "sim._simulation",
    "Failure": "sim._simulation",
    "ScenarioOptions": "program._scenario",
    "CostModel": "collectives._algorithms",
    "PlanDocument": "documents._plan",
    "RankResult": "documents._trace",
    "Report": "documents._report",
    "Trace": "documents._trace",
    "TraceEvent": "documents._trace",
    "load_document": "documents._load",
    "Profile": "collectives._profile",
    "load_profile": "collectives._profile",
}


def _public(obj):
    """Show the public path in reprs and docs (``simdist.Trace``, not ``simdist.documents._trace.Trace``)."""
    if getattr(obj, "__module__", "").startswith(f"{__name__}."):
        obj.__module__ = __name__
    return obj


for _name in __all__:
    if _name in globals():
        _public(globals()[_name])
del _name


def __getattr__(name: str):
    # PEP 562: heavy surfaces load on first use, so `import simdist` stays instant.
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:  # argparse and shlex only when a command line is parsed
        value = _public(getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name))
        globals()[name] = value
        return value
    if name == "__version__":  # importlib.metadata costs ~20 ms: only when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("simdist")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({n for n in globals() if n.startswith("_")} | set(__all__) | set(_SUBPACKAGES))
