"""Report: what a real torchrun run observed, next to what was predicted (``simdist.report/1``), typed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import ConfigError
from ._cost import CostModelSummary
from ._plan import GPU, PlanDocument
from ._validate import check_keys, check_list

__all__ = ["REPORT_SCHEMA", "AgentRun", "CollectiveTiming", "Comparison", "Device", "Difference", "ObservedError",
           "PredictedCollective", "Prediction", "Report", "ReportWorker", "TimedCall"]  # fmt: skip

REPORT_SCHEMA = "simdist.report/1"
_WORKER_KEYS = ("rank", "local_rank", "group_rank", "node_rank", "device")


@dataclass(frozen=True, slots=True)
class Device:
    """The device a worker ran on: ``cpu``, or ``cuda`` with its index as the worker saw it."""

    type: str
    index: int | None = None
    name: str | None = None
    cuda_visible_devices: str | None = None

    @property
    def physical_gpu(self) -> GPU | None:
        """The physical GPU: the CUDA index mapped through CUDA_VISIBLE_DEVICES (None on the CPU)."""
        if self.type != "cuda" or self.index is None:
            return None
        if self.cuda_visible_devices:
            listed = [v.strip() for v in self.cuda_visible_devices.split(",")]
            if self.index < len(listed):
                value = listed[self.index]
                return int(value) if value.isdigit() else value
        return self.index

    def to_dict(self) -> dict[str, Any]:
        # Always written (null when unset), as the worker records it and reference.md lists it.
        return {"type": self.type, "index": self.index, "name": self.name,
                "cuda_visible_devices": self.cuda_visible_devices}  # fmt: skip

    @classmethod
    def from_dict(cls, data: object) -> Device | None:
        if not isinstance(data, Mapping):
            return None
        return cls(str(data.get("type", "cpu")), data.get("index"), data.get("name"), data.get("cuda_visible_devices"))


@dataclass(frozen=True, slots=True)
class ObservedError:
    """What a worker raised: torch's exception type, its one-line message, the traceback's tail."""

    type: str
    message: str
    traceback: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.type}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "traceback": list(self.traceback)}

    @classmethod
    def from_dict(cls, data: object) -> ObservedError | None:
        if not isinstance(data, Mapping):
            return None
        return cls(str(data.get("type", "")), str(data.get("message", "")), tuple(data.get("traceback") or ()))


@dataclass(frozen=True, slots=True)
class ReportWorker:
    """One real worker as it reported itself."""

    rank: int
    local_rank: int
    group_rank: int
    node_rank: int
    env: Mapping[str, str] = field(default_factory=dict)
    hostname: str | None = None
    pid: int | None = None
    device: Device | None = None
    backend: str | None = None
    result: Any = None
    error: ObservedError | None = None

    @property
    def physical_gpu(self) -> GPU | None:
        return None if self.device is None else self.device.physical_gpu

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "local_rank": self.local_rank, "group_rank": self.group_rank,
            "node_rank": self.node_rank, "env": dict(self.env), "hostname": self.hostname, "pid": self.pid,
            "device": None if self.device is None else self.device.to_dict(), "backend": self.backend,
            "result": self.result, "error": None if self.error is None else self.error.to_dict(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportWorker:
        return cls(
            rank=data["rank"], local_rank=data["local_rank"], group_rank=data["group_rank"],
            node_rank=data["node_rank"], env=dict(data.get("env") or {}), hostname=data.get("hostname"),
            pid=data.get("pid"), device=Device.from_dict(data.get("device")), backend=data.get("backend"),
            result=data.get("result"), error=ObservedError.from_dict(data.get("error")),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AgentRun:
    """One torchrun agent started on this machine, and how it ended."""

    node: int
    argv: tuple[str, ...]
    returncode: int | None
    timed_out: bool
    stderr_tail: tuple[str, ...] = ()
    pids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "argv": list(self.argv), "returncode": self.returncode,
                "timed_out": self.timed_out, "stderr_tail": list(self.stderr_tail), "pids": list(self.pids)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentRun:
        return cls(data.get("node", 0), tuple(data.get("argv") or ()), data.get("returncode"),
                   bool(data.get("timed_out")), tuple(data.get("stderr_tail") or ()), tuple(data.get("pids") or ()))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Difference:
    """One way reality differed from the prediction (``rank`` None: the job as a whole)."""

    rank: int | None
    field: str
    predicted: Any
    observed: Any

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "field": self.field, "predicted": self.predicted, "observed": self.observed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Difference:
        return cls(data.get("rank"), str(data.get("field", "")), data.get("predicted"), data.get("observed"))

    def __str__(self) -> str:
        who = f"RANK {self.rank}" if self.rank is not None else "the job"
        return f"{who}: {self.field} predicted {_short(self.predicted)}, observed {_short(self.observed)}"


@dataclass(frozen=True, slots=True)
class Comparison:
    differences: tuple[Difference, ...] = ()

    @property
    def matches(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {"matches": self.matches, "differences": [d.to_dict() for d in self.differences]}

    @classmethod
    def from_dict(cls, data: object) -> Comparison:
        differences = data.get("differences") if isinstance(data, Mapping) else None
        return cls(tuple(Difference.from_dict(d) for d in differences or () if isinstance(d, Mapping)))


@dataclass(frozen=True, slots=True)
class PredictedCollective:
    """One collective as the simulation timed it: op, group (global ranks), bytes (nccl-tests' size), when."""

    op: str
    ranks: tuple[int, ...]
    bytes: int
    algorithm: str | None
    start: float
    end: float

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "ranks": list(self.ranks), "bytes": self.bytes, "algorithm": self.algorithm,
                "start": self.start, "end": self.end}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PredictedCollective:
        return cls(str(data["op"]), tuple(int(r) for r in data["ranks"]), int(data["bytes"]),
                   None if data.get("algorithm") is None else str(data["algorithm"]), float(data["start"]),
                   float(data["end"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class TimedCall:
    """One side of a collective's comparison: seconds, and algbw and busbw in B/s (nccl-tests' factors).

    Predicted: ``algorithm`` is what the simulator timed. Measured: ``ranks_timed`` ranks
    timed the call, and ``time`` is the shortest of theirs.
    """

    time: float
    algbw: float
    busbw: float
    algorithm: str | None = None
    ranks_timed: int | None = None

    @property
    def measured(self) -> bool:
        return self.ranks_timed is not None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"time": self.time, "algbw": self.algbw, "busbw": self.busbw}
        if self.measured:
            data["ranks_timed"] = self.ranks_timed
        else:
            data["algorithm"] = self.algorithm
        return data

    @classmethod
    def from_dict(cls, data: object) -> TimedCall | None:
        if not isinstance(data, Mapping):
            return None
        timed = data.get("ranks_timed")
        algorithm = data.get("algorithm")
        return cls(float(data["time"]), float(data.get("algbw") or 0.0), float(data.get("busbw") or 0.0),
                   None if algorithm is None else str(algorithm), None if timed is None else int(timed))  # fmt: skip


@dataclass(frozen=True, slots=True)
class CollectiveTiming:
    """One collective of a ``--real`` run: the predicted call beside the measured one (either may be missing)."""

    op: str
    ranks: tuple[int, ...]
    bytes: int
    predicted: TimedCall | None = None
    measured: TimedCall | None = None

    @property
    def measured_over_predicted(self) -> float | None:
        if self.predicted is None or self.measured is None or self.predicted.time <= 0:
            return None
        return self.measured.time / self.predicted.time

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "ranks": list(self.ranks), "bytes": self.bytes,
                "predicted": None if self.predicted is None else self.predicted.to_dict(),
                "measured": None if self.measured is None else self.measured.to_dict(),
                "measured_over_predicted": self.measured_over_predicted}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CollectiveTiming:
        return cls(str(data["op"]), tuple(int(r) for r in data["ranks"]), int(data["bytes"]),
                   TimedCall.from_dict(data.get("predicted")), TimedCall.from_dict(data.get("measured")))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the simulator predicted for each rank: a result, or an error (and the others torch may show)."""

    outcome: str | None = None
    diagnosis: str | None = None
    results: Mapping[str, Any] | None = None  # by rank, as a string (JSON keys)
    errors: Mapping[str, str] | None = None
    alternatives: Mapping[str, tuple[str, ...]] | None = None
    error: str | None = None  # the prediction itself failed (it never stops the real run)
    collectives: tuple[PredictedCollective, ...] | None = None  # every collective simulated, in order (capped)
    cost_model: CostModelSummary | None = None  # where the predicted times come from

    def accepted_errors(self, rank: int) -> tuple[str, ...]:
        """Every error text the prediction allows on ``rank``: none when it predicts no error there."""
        predicted = (self.errors or {}).get(str(rank))
        if predicted is None:
            return ()
        return (predicted, *(self.alternatives or {}).get(str(rank), ()))

    def to_dict(self) -> dict[str, Any]:
        """The prediction on its own (the worker that computed it hands it to the launcher as JSON)."""
        return {
            "outcome": self.outcome, "diagnosis": self.diagnosis,
            "results": None if self.results is None else dict(self.results),
            "errors": None if self.errors is None else dict(self.errors),
            "alternatives": None if self.alternatives is None else {k: list(v) for k, v in self.alternatives.items()},
            "error": self.error,
            "collectives": None if self.collectives is None else [c.to_dict() for c in self.collectives],
            "cost_model": None if self.cost_model is None else self.cost_model.to_dict(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: object) -> Prediction:
        if not isinstance(data, Mapping):
            return cls(error=f"malformed prediction: {type(data).__name__}, not an object")
        results, errors, alternatives = data.get("results"), data.get("errors"), data.get("alternatives")
        return cls(
            outcome=data.get("outcome"), diagnosis=data.get("diagnosis"),
            results=None if not isinstance(results, Mapping) else {str(k): v for k, v in results.items()},
            errors=None if not isinstance(errors, Mapping) else {str(k): str(v) for k, v in errors.items()},
            alternatives=None if not isinstance(alternatives, Mapping) else
            {str(k): tuple(map(str, v)) for k, v in alternatives.items()},
            error=data.get("error"),
            collectives=_predicted_collectives(data.get("collectives")),
            cost_model=CostModelSummary.from_dict(data.get("cost_model")),
        )  # fmt: skip


def _predicted_collectives(data: object) -> tuple[PredictedCollective, ...] | None:
    if not isinstance(data, list):
        return None
    try:
        return tuple(PredictedCollective.from_dict(c) for c in data)
    except (KeyError, TypeError, ValueError):  # a malformed list is no list (the comparison shows none)
        return None


@dataclass(frozen=True, slots=True)
class Report:
    """A real run: the plan it was compared with, every worker's record, every agent's end."""

    launch: Mapping[str, Any]
    scenario: str | None
    backend: str | None
    torch_version: str | None
    plan: PlanDocument | None
    prediction: Prediction
    workers: tuple[ReportWorker, ...]
    agents: tuple[AgentRun, ...]
    comparison: Comparison
    failed: bool
    diagnosis: str | None
    gathered_by: str | None = None
    nodes_run_here: tuple[int, ...] = ()
    # every collective the program called: predicted and measured time, algbw and busbw (nccl-tests' factors)
    collectives: tuple[CollectiveTiming, ...] = ()

    @property
    def matches(self) -> bool:
        return self.comparison.matches

    def worker(self, rank: int) -> ReportWorker:
        for worker in self.workers:
            if worker.rank == rank:
                return worker
        raise KeyError(f"RANK {rank} did not report")

    def to_dict(self) -> dict[str, Any]:
        p = self.prediction
        return {
            "schema": REPORT_SCHEMA,
            "launch": dict(self.launch),
            "scenario": self.scenario,
            "backend": self.backend,
            "torch_version": self.torch_version,
            "plan": None if self.plan is None else self.plan.to_dict(),
            "predicted_outcome": p.outcome,
            "predicted_diagnosis": p.diagnosis,
            "predicted_results": None if p.results is None else dict(p.results),
            "predicted_errors": None if p.errors is None else dict(p.errors),
            "predicted_alternatives": None if p.alternatives is None else {k: list(v) for k, v in p.alternatives.items()},
            "prediction_error": p.error,
            "workers": [w.to_dict() for w in self.workers],
            "agents": [a.to_dict() for a in self.agents],
            "gathered_by": self.gathered_by,
            "nodes_run_here": list(self.nodes_run_here),
            "comparison": self.comparison.to_dict(),
            "collectives": [c.to_dict() for c in self.collectives],
            "cost_model": None if p.cost_model is None else p.cost_model.to_dict(),
            "failed": self.failed,
            "diagnosis": self.diagnosis,
        }

    def to_json(self, indent: int | None = 2) -> str:
        # allow_nan: results are whatever the user's scenario returned (a NaN loss included); refusing
        # them would lose a finished real run. Python's json reads NaN and Infinity back.
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=repr)

    @classmethod
    def from_dict(cls, data: object, where: str = "input") -> Report:
        """Read a report; a missing or malformed part is a one-line ConfigError naming ``where``."""
        check_keys(data, ("workers", "comparison"), where, REPORT_SCHEMA)
        assert isinstance(data, Mapping)
        workers = check_list(data, "workers", where, REPORT_SCHEMA)
        for worker in workers:
            check_keys(worker, _WORKER_KEYS, where, REPORT_SCHEMA, "a worker")
        plan = data.get("plan")
        alternatives = data.get("predicted_alternatives")
        collectives = data.get("collectives")
        if collectives is not None:
            for row in check_list(data, "collectives", where, REPORT_SCHEMA):
                check_keys(row, ("op", "ranks", "bytes"), where, REPORT_SCHEMA, "a collective")
        try:
            timings = tuple(CollectiveTiming.from_dict(row) for row in collectives or ())
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed {REPORT_SCHEMA} document: a collective's timing "
                              f"({type(exc).__name__}: {exc})") from None  # fmt: skip
        return cls(
            launch=dict(data.get("launch") or {}),
            scenario=data.get("scenario"),
            backend=data.get("backend"),
            torch_version=data.get("torch_version"),
            plan=None if plan is None else PlanDocument.from_dict(plan, where, f"{REPORT_SCHEMA} plan"),
            prediction=Prediction(
                outcome=data.get("predicted_outcome"), diagnosis=data.get("predicted_diagnosis"),
                results=data.get("predicted_results"), errors=data.get("predicted_errors"),
                alternatives=None if not isinstance(alternatives, Mapping) else
                {str(k): tuple(v) for k, v in alternatives.items()},
                error=data.get("prediction_error"),
                cost_model=CostModelSummary.from_dict(data.get("cost_model")),
            ),  # fmt: skip
            workers=tuple(ReportWorker.from_dict(w) for w in workers),
            agents=tuple(AgentRun.from_dict(a) for a in data.get("agents") or () if isinstance(a, Mapping)),
            comparison=Comparison.from_dict(data["comparison"]),
            failed=bool(data.get("failed")),
            diagnosis=data.get("diagnosis"),
            gathered_by=data.get("gathered_by"),
            nodes_run_here=tuple(data.get("nodes_run_here") or ()),
            collectives=timings,
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"
