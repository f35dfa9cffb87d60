"""``--real`` for a user's script: the same script through real torchrun, compared rank by rank.

torchrun starts ``python -m simdist.real._script_worker SCRIPT ARGS`` (which runs the
script unmodified and records how each worker ended), bounded by the timeout. Then, in
a child process (the launcher never imports torch), the simulator predicts the same
launch; each rank's exit code, printed output and error are compared with what really
happened, and each blocking collective's measured time with its predicted one. A
prediction that fails is reported as such: the real run has happened.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from .._errors import ConfigError
from ..documents._report import AgentRun, Comparison, Difference, ObservedError, Prediction, Report, ReportWorker
from ..launch._commands import torchrun_argv
from ..launch._plan import spec_to_dict
from ..launch._spec import LaunchSpec
from ._agents import clean_launcher_env, run_agents
from ._report import compare
from ._timing import compare_collectives

__all__ = ["run_real_script"]

SCRIPT_WORKER = "simdist.real._script_worker"
KILLED = (-15, -9)  # a worker torchrun stopped because another failed: it writes no record


def run_real_script(spec: LaunchSpec, options, machines: list[int]) -> Report:
    """Run ``options.script`` through torchrun on ``machines``; return the report."""
    from ._run import TORCHRUN, _as_reported, _predicted_plan, _visible_devices_env

    words = list(options.script)
    if not words:
        raise ConfigError("--real needs the script to run")
    if not options.module and not Path(words[0]).is_file():
        raise ConfigError(f"{words[0]}: no such file")
    entry = ["-m", *words] if options.module else [str(Path(words[0]).resolve()), *words[1:]]
    with tempfile.TemporaryDirectory(prefix="simdist-real-") as folder:
        worker_spec = dataclasses.replace(spec, module=True, no_python=False, script=(SCRIPT_WORKER, *entry))
        env = clean_launcher_env()
        env.update(spec.env)
        env["SIMDIST_OUT"] = folder
        commands = [torchrun_argv(worker_spec, m, launcher=" ".join(TORCHRUN)) for m in machines]
        results = run_agents(commands, env=env, timeout=options.timeout,
                             env_per_agent=[_visible_devices_env(spec, m) for m in machines])  # fmt: skip
        records = _latest_records(Path(folder))
    prediction = _predict(spec, options) if options.predict_results else Prediction()
    plan = _predicted_plan(spec, machines, results)
    if spec.max_restarts:  # each node restarts on its own: its workers' restart counts differ
        plan = plan.with_workers([dataclasses.replace(w, env={k: v for k, v in w.env.items()
                                                              if k != "TORCHELASTIC_RESTART_COUNT"})
                                  for w in plan.workers])  # fmt: skip
    node_of = {pid: m for result, m in zip(results, machines, strict=True) for pid in result.pids}
    workers = tuple(_worker(r, node_of.get(r["pid"], r["group_rank"])) for r in records)
    expected = plan.with_workers([w for w in plan.workers if w.node_rank in machines])
    results_known = prediction.results is not None and prediction.error is None
    differences = [
        d for d in compare(expected, prediction if results_known else None, workers, backend="gloo")
        if not _killed_as_predicted(d, prediction)
    ]
    for result, machine in zip(results, machines, strict=True):
        if result.timed_out:
            differences.append(Difference(None, f"node {machine}", "exits",
                                          f"still running after {options.timeout:g} s (killed)"))  # fmt: skip
    failed = any(r.returncode not in (0, None) or r.timed_out for r in results)
    agents = tuple(
        AgentRun(node=m, argv=tuple(r.argv), returncode=r.returncode, timed_out=r.timed_out,
                 stderr_tail=tuple(r.stderr.splitlines()[-25:]), pids=tuple(r.pids))
        for r, m in zip(results, machines, strict=True)
    )  # fmt: skip
    comparison = Comparison(tuple(differences))
    return Report(
        launch=plan.launch, scenario=" ".join(words), backend="gloo", torch_version=None, plan=plan,
        prediction=_as_reported(prediction), workers=workers, agents=agents, comparison=comparison, failed=failed,
        diagnosis=_diagnosis(workers, comparison, failed), gathered_by=None, nodes_run_here=tuple(machines),
        collectives=compare_collectives(prediction.collectives or (), records),
    )  # fmt: skip


def _latest_records(folder: Path) -> list[dict]:
    """Each rank's record from its last attempt, with what every attempt printed joined in order."""
    by_rank: dict[int, list[dict]] = {}
    for path in folder.glob("rank*-attempt*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):  # pragma: no cover - written atomically
            continue
        by_rank.setdefault(record["rank"], []).append(record)
    latest = []
    for rank in sorted(by_rank):
        attempts = sorted(by_rank[rank], key=lambda r: r["attempt"])
        last = dict(attempts[-1])
        last["stdout"] = "".join(r.get("stdout", "") for r in attempts)
        latest.append(last)
    return latest


def _worker(record: dict, node_rank: int) -> ReportWorker:
    error = record.get("error")
    return ReportWorker(
        rank=record["rank"], local_rank=record["local_rank"], group_rank=record["group_rank"], node_rank=node_rank,
        env=record.get("env", {}), hostname=record.get("hostname"), pid=record.get("pid"), backend=None,
        result={"exit_code": record["exit_code"], "stdout": record.get("stdout", "")},
        error=None if not error else ObservedError(error["type"], error["message"]),
    )  # fmt: skip


def _killed_as_predicted(difference: Difference, prediction: Prediction) -> bool:
    """A rank predicted to be stopped by its agent leaves no record: that is what was predicted."""
    if difference.field != "reported" or difference.rank is None or prediction.results is None:
        return False
    predicted = prediction.results.get(str(difference.rank)) or {}
    return isinstance(predicted, dict) and predicted.get("exit_code") in KILLED


def _predict(spec: LaunchSpec, options) -> Prediction:
    """The simulator's prediction, from a child process bounded by the same timeout."""
    from ._predict import predict_in_child

    request = {"spec": spec_to_dict(spec), "script": list(options.script), "module": options.module,
               "backend": "gloo", "pg_timeout": options.pg_timeout, "profile": options.profile}  # fmt: skip
    return predict_in_child(request, options.timeout)


def _diagnosis(workers: tuple[ReportWorker, ...], comparison: Comparison, failed: bool) -> str | None:
    if comparison.matches and not failed:
        return None
    errors = [w for w in workers if w.error is not None]
    if errors:
        return f"rank {errors[0].rank} raised {errors[0].error.text}"
    exits = [w for w in workers if isinstance(w.result, dict) and w.result.get("exit_code")]
    if exits:
        return f"rank {exits[0].rank} exited with {exits[0].result['exit_code']}"
    return "; ".join(str(d) for d in comparison.differences[:3]) or None
