"""Run a launch for real — torch's own launcher, our small worker — and compare with the prediction.

``run_real`` starts ``python -m torch.distributed.run`` (one agent per node with
``local_nodes``, else this machine's share), bounds everything by ``timeout``,
collects the workers' records and returns a typed :class:`Report` (``report.to_json()``
is the ``simdist.report/1`` file). The parent process never imports torch; only the
workers do (RANK 0's worker also computes the prediction, while torchrun runs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ConfigError, RealModeUnavailable
from ..documents._plan import PlanDocument
from ..documents._report import (
    AgentRun,
    Comparison,
    Device,
    Difference,
    ObservedError,
    Prediction,
    Report,
    ReportWorker,
)
from ..launch._commands import torchrun_argv
from ..launch._make import make_plan
from ..launch._spec import LaunchSpec, resolve_rendezvous
from ._agents import AgentResult, clean_launcher_env, free_port, run_agents
from ._report import child_failed_root_cause, compare, relevant_env
from ._timing import compare_collectives

__all__ = ["RealOptions", "run_real"]

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
WORKER_MODULE = "simdist.real._worker"


@dataclass(frozen=True, slots=True, kw_only=True)
class RealOptions:
    """How to run for real."""

    scenario: str = "env"
    backend: str = "auto"  # auto | gloo | nccl
    timeout: float = 120.0  # the whole run, seconds
    local_nodes: bool = False  # one agent per node on 127.0.0.1
    pg_timeout: float | None = None  # init_process_group timeout in the workers; None: 60 s, or timeout / 2
    predict_results: bool = True
    script: tuple[str, ...] | None = None  # a user's script and its arguments, run instead of a scenario
    module: bool = False  # script[0] is a module name (python -m)
    profile: str | None = None  # a simdist.profile/1 file: the prediction's collective times come from it

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "gloo", "nccl"):
            raise ConfigError(f"unknown backend {self.backend!r}: auto, gloo or nccl")
        for name, value in (("--timeout", self.timeout), ("--pg-timeout", self.pg_timeout)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number of seconds, got {value:g}")
        if self.pg_timeout is None:  # torch must time out (and say why) before the run is killed
            object.__setattr__(self, "pg_timeout", min(60.0, self.timeout / 2))
        elif self.pg_timeout >= self.timeout:
            raise ConfigError(f"--pg-timeout ({self.pg_timeout:g} s) must be shorter than --timeout "
                              f"({self.timeout:g} s), or the run is killed before torch reports a hang")  # fmt: skip


def require_torch() -> None:
    """Real mode needs torch in this interpreter (torchrun and the workers use it)."""
    if importlib.util.find_spec("torch") is None:
        raise RealModeUnavailable(
            f"real mode runs torchrun, but torch is not installed for {sys.executable}: pip install torch"
        )


def local_spec(spec: LaunchSpec) -> LaunchSpec:
    """The same launch with every node on this machine (127.0.0.1, free ports)."""
    port = free_port()
    changes: dict[str, Any] = {"hosts": ("127.0.0.1",) * spec.max_nodes}
    setup = resolve_rendezvous(spec)
    if setup.backend == "static" and setup.mode == "explicit":
        changes.update(master_addr="127.0.0.1", master_port=port, rdzv_endpoint="")
    elif setup.mode == "explicit":
        changes.update(rdzv_endpoint=f"127.0.0.1:{port}")
    return dataclasses.replace(spec, **changes)


def _worker_spec(spec: LaunchSpec) -> LaunchSpec:
    return dataclasses.replace(spec, module=True, no_python=False, script=(WORKER_MODULE,))


def _machines(spec: LaunchSpec, local_nodes: bool) -> list[int]:
    if local_nodes or spec.max_nodes == 1:
        return list(range(spec.max_nodes))
    if spec.node_rank is None and resolve_rendezvous(spec).backend == "static":
        raise ConfigError("--real on a cluster: run the same command on every machine with its own --node-rank "
                          "(or use --local-nodes to run every node on this machine)")  # fmt: skip
    return [spec.node_rank or 0]


def _environment(spec: LaunchSpec, options: RealOptions, out: Path, token: str) -> dict[str, str]:
    from ..launch._plan import spec_to_dict

    env = clean_launcher_env()
    env.update(spec.env)
    if options.predict_results:  # RANK 0's worker predicts the results (it has torch loaded already)
        env["SIMDIST_SPEC"] = json.dumps(spec_to_dict(spec))
        if options.profile is not None:
            from ._predict import profile_env

            env.update(profile_env(options.profile))
    env.update(
        SIMDIST_SCENARIO=options.scenario, SIMDIST_OUT=str(out), SIMDIST_BACKEND=options.backend,
        SIMDIST_PG_TIMEOUT=str(options.pg_timeout), SIMDIST_TOKEN=token,
        SIMDIST_GATHER_TIMEOUT=str(max(5.0, min(30.0, options.timeout / 4))),
    )  # fmt: skip
    return env


def run_real(spec: LaunchSpec, options: RealOptions, *, out_dir: str | None = None,
             extra_env: dict[str, str] | None = None, on_poll: Callable[[Path], None] | None = None) -> Report:
    """Run the scenario through real torchrun; return what it observed next to the prediction.

    ``extra_env`` adds variables for the workers; ``on_poll(folder)`` is called while they
    run, with the folder they write into (``simdist calibrate`` reads its progress there).
    """
    require_torch()
    from ..program._scenario import check_scenario_ref

    if options.script is None:
        check_scenario_ref(options.scenario)  # early, and without importing torch here
    if options.local_nodes:
        spec = local_spec(spec)
    machines = _machines(spec, options.local_nodes)
    if options.script is not None:
        from ._script_run import run_real_script

        return run_real_script(spec, options, machines)
    token = launch_token(spec)
    with tempfile.TemporaryDirectory(prefix="simdist-real-", dir=out_dir) as folder:
        out = Path(folder)
        env = {**_environment(spec, options, out, token), **(extra_env or {})}
        worker_spec = _worker_spec(spec)
        commands = [torchrun_argv(worker_spec, m, launcher=" ".join(TORCHRUN)) for m in machines]
        per_agent = [_visible_devices_env(spec, m) for m in machines]
        results = run_agents(commands, env=env, timeout=options.timeout, env_per_agent=per_agent,
                             on_poll=None if on_poll is None else (lambda: on_poll(out)))  # fmt: skip
        gathered = _gathered(out)
        records, gathered_by = _records(out, gathered)
        prediction = _prediction(gathered)
    if options.predict_results and prediction is None and len(machines) == spec.max_nodes:
        # RANK 0 did not get to it (it failed first): predict here, with the backend the workers used
        prediction = _predict_here(spec, options, _backend_used(options, records))
    return _report(spec, options, machines, results, records, gathered_by, prediction or Prediction())


def launch_token(spec: LaunchSpec) -> str:
    """The same on every machine of one launch (their commands differ only in --node-rank):
    RANK 0 finds every node's records under it in the store."""
    from ..launch._plan import spec_to_dict

    shared = {k: v for k, v in spec_to_dict(spec).items() if k != "node_rank"}
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()[:12]


def _gathered(out: Path) -> dict | None:
    """``records.json``: what the RANK 0 worker gathered (and predicted), if it got that far."""
    path = out / "records.json"
    return json.loads(path.read_text()) if path.exists() else None


def _prediction(gathered: dict | None) -> Prediction | None:
    """What RANK 0's worker predicted (or why it could not); None: it predicted nothing."""
    if gathered is None or "prediction" not in gathered:
        return None
    return Prediction.from_dict(gathered["prediction"])


def _backend_used(options: RealOptions, records: list[dict]) -> str:
    """The backend the workers chose (auto resolves inside them), else what was asked for."""
    if records:
        return records[0]["backend"]
    return options.backend if options.backend != "auto" else "gloo"


def _predict_here(spec: LaunchSpec, options: RealOptions, backend: str) -> Prediction:
    """RANK 0 did not predict: predict here, in a child process bounded by the run's timeout (a scenario
    that never returns simulates forever; a prediction failure is reported, never fatal)."""
    from ..launch._plan import spec_to_dict
    from ._predict import predict_in_child

    request = {"spec": spec_to_dict(spec), "scenario": options.scenario, "backend": backend,
               "pg_timeout": options.pg_timeout, "profile": options.profile}  # fmt: skip
    return predict_in_child(request, options.timeout)


def _visible_devices_env(spec: LaunchSpec, machine: int) -> dict[str, str]:
    if spec.visible_devices is not None and spec.visible_devices[machine] is not None:
        return {"CUDA_VISIBLE_DEVICES": spec.visible_devices[machine]}
    return {}


def _records(out: Path, gathered: dict | None) -> tuple[list[dict], str | None]:
    """Every worker record: those RANK 0 gathered, plus any only written on this machine."""
    if gathered is None:
        return _local_records(out), None
    merged = {r["rank"]: r for r in gathered["records"]}
    for record in _local_records(out):
        merged.setdefault(record["rank"], record)
    return [merged[r] for r in sorted(merged)], gathered.get("gathered_by")


def _local_records(out: Path) -> list[dict]:
    records = []
    for path in sorted(out.glob("rank*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except json.JSONDecodeError:  # pragma: no cover - workers write atomically
            continue
    return sorted(records, key=lambda r: r["rank"])


def _node_of_pid(results: list[AgentResult], machines: list[int]) -> dict[int, int]:
    return {pid: machine for result, machine in zip(results, machines, strict=True) for pid in result.pids}


def _predicted_plan(spec: LaunchSpec, machines: list[int], results: list[AgentResult]) -> PlanDocument:
    """The plan; under c10d with every agent on this machine, the group order follows from the
    agents' real descriptors: (this host's FQDN, agent pid)."""
    if resolve_rendezvous(spec).backend != "c10d" or len(machines) < spec.max_nodes:
        return make_plan(spec).document()
    fqdn = socket.getfqdn()
    pids = {machine: result.pid or 0 for machine, result in zip(machines, results, strict=True)}
    order = sorted(machines, key=pids.__getitem__)
    return make_plan(dataclasses.replace(spec, hosts=(fqdn,) * spec.max_nodes), order=order).document()


def _worker(record: dict, node_rank: int) -> ReportWorker:
    """A worker's record as it sent it (JSON), typed; only the torchrun-related env is kept."""
    return ReportWorker(
        rank=record["rank"], local_rank=record["local_rank"], group_rank=record["group_rank"], node_rank=node_rank,
        env=relevant_env(record["env"]), hostname=record["hostname"], pid=record["pid"],
        device=Device.from_dict(record.get("device")), backend=record.get("backend"), result=record.get("result"),
        error=ObservedError.from_dict(record.get("error")),
    )  # fmt: skip


def _report(spec: LaunchSpec, options: RealOptions, machines: list[int], results: list[AgentResult],
            records: list[dict], gathered_by: str | None, prediction: Prediction) -> Report:  # fmt: skip
    plan = _predicted_plan(spec, machines, results)
    node_of = _node_of_pid(results, machines)
    backend = _backend_used(options, records)
    # A worker's node is the agent that started it (its pid); else, as torchrun numbers them, its group.
    workers = tuple(_worker(r, node_of.get(r["pid"], r["group_rank"])) for r in records)
    full_run = len(machines) == spec.max_nodes or gathered_by is not None
    expected = plan if full_run else plan.with_workers([w for w in plan.workers if w.node_rank in machines])
    # Results are compared only when there are predicted results (not for a prediction that failed).
    differences = compare(expected, prediction if prediction.results is not None else None, workers,
                          backend=backend)  # fmt: skip
    for result, machine in zip(results, machines, strict=True):
        if result.timed_out:
            differences.append(Difference(None, f"node {machine}", "exits",
                                          f"still running after {options.timeout:g} s (killed)"))  # fmt: skip
        elif result.returncode not in (0, None) and not any(w.error for w in workers):
            differences.append(Difference(None, f"node {machine}", "exit 0", f"torchrun exited {result.returncode}"))
    agents = tuple(
        AgentRun(node=machine, argv=tuple(result.argv), returncode=result.returncode, timed_out=result.timed_out,
                 stderr_tail=tuple(result.stderr.splitlines()[-25:]), pids=tuple(result.pids))
        for result, machine in zip(results, machines, strict=True)
    )  # fmt: skip
    comparison = Comparison(tuple(differences))
    failed = (any(w.error for w in workers) or any(r.returncode not in (0, None) or r.timed_out for r in results)
              or len(workers) < len(expected.workers))  # fmt: skip
    return Report(
        launch=plan.launch,
        scenario=options.scenario,
        backend=backend,
        torch_version=records[0]["torch_version"] if records else None,
        plan=plan,
        prediction=_as_reported(prediction),
        workers=workers,
        agents=agents,
        comparison=comparison,
        failed=failed,
        diagnosis=_diagnosis(workers, comparison, failed, results),
        gathered_by=gathered_by,
        nodes_run_here=tuple(machines),
        collectives=compare_collectives(prediction.collectives or (), records),
    )


def _as_reported(prediction: Prediction) -> Prediction:
    """The prediction as the report holds it: its collectives live on in the report's ``collectives``
    rows (predicted beside measured), so the report file reads back as the same report."""
    return dataclasses.replace(prediction, collectives=None)


def _diagnosis(workers: tuple[ReportWorker, ...], comparison: Comparison, failed: bool,
               results: list[AgentResult]) -> str | None:  # fmt: skip
    """Name the failing rank and the root cause, as torchrun and the workers reported it."""
    if comparison.matches and not failed:
        return None
    for result in results:
        cause = child_failed_root_cause(result.stderr)
        if cause is not None:
            worker = next((w for w in workers if w.rank == cause.rank), None)
            message = cause.message or (worker.error.text if worker is not None and worker.error else None)
            text = f"rank {cause.rank} (local_rank {cause.local_rank}) failed with exit code {cause.exit_code}"
            return text + (f": {message}" if message else "")
    errors = [w for w in workers if w.error]
    if errors:
        first = errors[0]
        return f"rank {first.rank} raised {first.error.text}"
    hung = [d.rank for d in comparison.differences if d.field == "reported" and d.predicted]
    if any(r.timed_out for r in results):
        if not hung:
            return "timed out after every rank had reported (a torchrun agent did not exit)"
        return f"timed out; rank{'s' * (len(hung) > 1)} {', '.join(map(str, hung))} never reported (hung or killed)"
    return "; ".join(f"rank {d.rank}: {d.field} predicted {d.predicted!r}, observed {d.observed!r}"
                     for d in comparison.differences[:3])  # fmt: skip
