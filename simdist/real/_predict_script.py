"""The simulator's prediction for a script, computed in a process of its own.

``python -m simdist.real._predict_script`` reads ``{"spec": …, "script": [...], "module": …,
"backend": …, "pg_timeout": …, "profile": FILE or null}`` as JSON on stdin and prints a
``Prediction`` as JSON: per rank, the exit code and what it printed (stdout, all attempts
in order), or the error it raised; and every collective's predicted time (from the
profile's measured costs if one is given). With ``"scenario": REF`` instead of a script it
predicts a scenario, as RANK 0's worker would have (real mode's fallback). Real mode runs it after the real run, in a child process, so that the
launching process never imports torch and a prediction that fails cannot stop the run.
"""

from __future__ import annotations

import json
import sys

__all__ = ["predict_script"]


def predict_script(request: dict) -> dict:
    from simdist.documents._report import Prediction
    from simdist.launch._spec import LaunchSpec
    from simdist.program._scenario import ScenarioOptions
    from simdist.program._simulate import simulate
    from simdist.real._predict import predicted_collectives
    from simdist.sim._simulation import SimOptions

    spec = LaunchSpec(**request["spec"])
    if request.get("scenario") is not None:  # real mode's fallback when RANK 0 could not predict
        from simdist.real._predict import predict

        return predict(spec, request["scenario"], backend=request.get("backend", "gloo"),
                       pg_timeout=request.get("pg_timeout"), profile=request.get("profile")).to_dict()  # fmt: skip
    options = ScenarioOptions(backend=request.get("backend", "gloo"), timeout=request.get("pg_timeout"),
                              trace_steps=False, profile=request.get("profile"))  # fmt: skip
    trace = simulate(spec, start_times=(0.0,) * spec.max_nodes, options=SimOptions(), script=request["script"],
                     module=bool(request.get("module")), scenario_options=options)  # fmt: skip
    printed: dict[int, list[str]] = {}
    for output in trace.output:  # every attempt, in start order
        printed.setdefault(output.rank, []).append(output.stdout)
    results = {str(r.rank): {"exit_code": r.exit_code, "stdout": "".join(printed.get(r.rank, []))}
               for r in trace.results}  # fmt: skip
    # an exception is compared by its text; sys.exit and os._exit by the exit code alone
    errors = {str(r.rank): r.error for r in trace.results
              if r.error and r.exit_code == 1 and not r.error.startswith(("SystemExit:", "Exit:"))}
    return Prediction(outcome=trace.outcome, diagnosis=trace.diagnosis, results=results, errors=errors,
                      alternatives={}, collectives=predicted_collectives(trace),
                      cost_model=trace.cost_model).to_dict()  # fmt: skip


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        answer = predict_script(request)
    except BaseException as exc:  # reported, never fatal: the real run has happened already
        answer = {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
