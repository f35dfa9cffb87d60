"""simdist: see what torchrun will do before you spend GPU hours.

The core (specs, plans, the simulator) is pure Python and imports nothing heavy;
``simdist.plot``, ``simdist.real`` and ``simdist.testing`` load on first use.
"""

from __future__ import annotations

import importlib

from ._errors import ConfigError, RealModeError, RealModeUnavailable, RealRunFailed, SimdistError, SimulationError
from .launch._plan import NodePlan, Plan, PlanWarning, WorkerPlan, make_plan
from .launch._spec import LaunchSpec, RendezvousSetup, resolve_rendezvous

__all__ = [
    "ConfigError",
    "Failure",
    "LaunchSpec",
    "NodePlan",
    "Plan",
    "PlanWarning",
    "Profile",
    "RealModeError",
    "RealModeUnavailable",
    "RealRunFailed",
    "RendezvousSetup",
    "ScenarioOptions",
    "SimOptions",
    "SimdistError",
    "SimulationError",
    "Trace",
    "TraceEvent",
    "WorkerPlan",
    "load_profile",
    "make_plan",
    "parse_torchrun_args",
    "resolve_rendezvous",
    "simulate",
    "spec_from_command",
]

_LAZY_SUBMODULES = ("plot", "real", "testing")
# Loaded on first use: the command-line parser (argparse), and the simulator, which
# `simdist explain` never needs.
_LAZY_NAMES = {
    "parse_torchrun_args": "launch._torchrun_args",
    "spec_from_command": "launch._torchrun_args",
    "simulate": "sim._simulation",
    "SimOptions": "sim._simulation",
    "Failure": "sim._simulation",
    "ScenarioOptions": "program._scenario",
    "Trace": "documents._trace",
    "TraceEvent": "documents._trace",
    "Profile": "collectives._profile",
    "load_profile": "collectives._profile",
}


def __getattr__(name: str):
    # PEP 562: heavy surfaces load on first use, so `import simdist` stays instant.
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:  # argparse and shlex only when a command line is parsed
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    if name == "__version__":  # importlib.metadata costs ~20 ms: only when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("simdist")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_LAZY_SUBMODULES))
