"""The simulator's prediction of a real run: every rank's result, or how each rank fails."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..documents._report import PredictedCollective, Prediction
from ..documents._trace import Trace
from ..launch._spec import LaunchSpec

__all__ = ["error_key", "predict", "predict_in_child", "predicted_collectives", "profile_env", "profile_from_env"]

_LOCATION = re.compile(r"^\s*\[[^\]]*\]\s*")  # "[…/gloo/transport/tcp/pair.cc:553] " differs by build


def predict(spec: LaunchSpec, scenario: str, *, backend: str = "gloo", pg_timeout: float | None = None,
            profile: Any = None) -> Prediction:
    """Simulate the launch with the scenario: every rank's result, or its error (string keys, as JSON),
    and every collective's predicted time (from ``profile``'s measured costs if one is given)."""
    from ..program._scenario import ScenarioOptions
    from ..program._simulate import simulate
    from ..sim._simulation import SimOptions

    options = ScenarioOptions(backend=backend, timeout=pg_timeout, trace_steps=False, profile=profile)
    trace = simulate(spec, start_times=(0.0,) * spec.max_nodes, options=SimOptions(), scenario=scenario,
                     scenario_options=options)  # fmt: skip
    errors: dict[str, str] = {}
    alternatives: dict[str, tuple[str, ...]] = {}
    for event in trace.events:
        if event.kind == "worker_exit" and event.detail.get("error"):
            errors[str(event.rank)] = f"{event.detail['error']}: {event.detail.get('message', '')}"
            if event.detail.get("alternatives"):
                # other errors torch may raise there, depending on which rank's timer fires first
                alternatives[str(event.rank)] = tuple(event.detail["alternatives"])
    return Prediction(
        outcome=trace.outcome,
        diagnosis=trace.diagnosis,
        results={str(r.rank): r.result for r in trace.results if str(r.rank) not in errors},
        errors=errors,
        alternatives=alternatives,
        collectives=predicted_collectives(trace),
        cost_model=trace.cost_model,
    )


def predicted_collectives(trace: Trace) -> tuple[PredictedCollective, ...]:
    """The trace's collectives, in order, as the comparison with measured times needs them (capped)."""
    return tuple(
        PredictedCollective(op=e.detail["op"], ranks=tuple(e.detail["ranks"]), bytes=e.detail["bytes"],
                            algorithm=e.detail.get("algorithm"), start=e.detail["start"], end=e.detail["end"])
        for e in trace.of_kind("collective")[:MAX_PREDICTED]
    )  # fmt: skip


def predict_in_child(request: dict[str, Any], timeout: float) -> Prediction:
    """The prediction computed by ``python -m simdist.real._predict_script`` from ``request`` (JSON on its
    stdin), bounded by ``timeout`` seconds: a program that never returns (a rank sleeping in a loop, say)
    simulates forever on the virtual clock, and the launcher neither waits for it nor imports torch."""
    import json
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-m", "simdist.real._predict_script"], input=json.dumps(request),
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        return Prediction.from_dict(json.loads(done.stdout))
    except subprocess.TimeoutExpired:
        return Prediction(error=f"the prediction did not finish within {timeout:g} s")
    except (OSError, json.JSONDecodeError) as exc:
        return Prediction(error=f"the prediction failed: {exc}")


MAX_PREDICTED = 10_000  # collectives listed for the comparison (a long training loop has more)
PROFILE_ENV = "SIMDIST_PROFILE"  # the profile's fits (JSON), for the worker that predicts
PROFILE_ORIGIN_ENV = "SIMDIST_PROFILE_ORIGIN"


def profile_env(path: str) -> dict[str, str]:
    """Read a profile (checking it) and pass its fits to the workers; the raw points stay here."""
    import dataclasses
    import json

    from ..collectives._profile import load_profile

    profile = dataclasses.replace(load_profile(path), points=())
    return {PROFILE_ENV: json.dumps(profile.to_dict(), separators=(",", ":")), PROFILE_ORIGIN_ENV: str(path)}


def profile_from_env(env: Mapping[str, str]) -> Any:
    """The profile :func:`profile_env` passed, as a cost model with its origin; None without one."""
    import json

    from ..collectives._profile import Profile

    text = env.get(PROFILE_ENV)
    if not text:
        return None
    return Profile.from_dict(json.loads(text), "profile").cost_model(origin=env.get(PROFILE_ORIGIN_ENV))


def error_key(message: str) -> str:
    """The part of an error message that both simulator and torch print the same way.

    Drops the source location (it names the build's paths) and stops before details
    that vary by run: peer addresses, ports, ranks in parentheses.
    """
    text = message.split(": ", 1)[1] if re.match(r"^\w+(Error|Exception|SIGABRT): ", message) else message
    text = _LOCATION.sub("", text)
    return re.split(r"[\[(.]", text, maxsplit=1)[0].strip()
