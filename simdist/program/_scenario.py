"""Scenarios: ordinary ``torch.distributed`` code, run rank by rank on the virtual clock.

A scenario is ``def scenario(dist): ...`` — ``dist`` is ``torch.distributed`` itself,
already initialised for the rank (``init_process_group`` done, as torchrun's workers
would do it). Each rank runs on its own thread, holding the kernel's baton; when it
blocks in a collective it hands the baton back, and the kernel resumes it when the
collective completes. Ranks that can run at the same virtual time run one at a time,
in an order drawn from the seed (see :mod:`._runner`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ..collectives._algorithms import ALL_REDUCE_ALGORITHMS, CostModel

__all__ = ["BUILTIN_NAMES", "Scenario", "ScenarioOptions", "error_line", "load_scenario", "plain_result"]

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


NUMPY_HINT = "numpy is not installed: torch's *_object collectives need it (pip install numpy)"


def error_line(exc: BaseException) -> str:
    """An exception's message on one line, with a hint where torch's own is cryptic."""
    return explain_error(" ".join(str(exc).split()))


def explain_error(message: str) -> str:
    """torch's message, with a hint where torch's own is cryptic."""
    if "Numpy is not available" in message or "No module named 'numpy'" in message:
        return f"{message} ({NUMPY_HINT})"
    return message


def plain_result(value: Any, _depth: int = 0) -> Any:
    """A JSON-friendly copy of a program's return value (tensors, wherever they live, become lists)."""
    import torch

    if _depth > 32:
        return "…"
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {str(k): plain_result(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_result(v, _depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    try:
        return repr(value)
    except Exception:  # a repr that raises is the program's bug, not simdist's
        return f"<{type(value).__name__}>"

