"""The simulator's prediction of a real run: every rank's result, or how each rank fails."""

from __future__ import annotations

import re

from ..documents._report import Prediction
from ..launch._spec import LaunchSpec

__all__ = ["error_key", "predict"]

_LOCATION = re.compile(r"^\s*\[[^\]]*\]\s*")  # "[…/gloo/transport/tcp/pair.cc:553] " differs by build


def predict(spec: LaunchSpec, scenario: str, *, backend: str = "gloo", pg_timeout: float | None = None) -> Prediction:
    """Simulate the launch with the scenario: every rank's result, or its error (string keys, as JSON)."""
    from ..program._scenario import ScenarioOptions
    from ..program._simulate import simulate
    from ..sim._simulation import SimOptions

    trace = simulate(spec, start_times=(0.0,) * spec.max_nodes, options=SimOptions(), scenario=scenario,
                     scenario_options=ScenarioOptions(backend=backend, timeout=pg_timeout, trace_steps=False))  # fmt: skip
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
    )


def error_key(message: str) -> str:
    """The part of an error message that both simulator and torch print the same way.

    Drops the source location (it names the build's paths) and stops before details
    that vary by run: peer addresses, ports, ranks in parentheses.
    """
    text = message.split(": ", 1)[1] if re.match(r"^\w+(Error|Exception|SIGABRT): ", message) else message
    text = _LOCATION.sub("", text)
    return re.split(r"[\[(.]", text, maxsplit=1)[0].strip()
