"""Predicted versus observed: the real workers, rank by rank, against the plan and the simulation.

Pure data work (no torch): :func:`compare` reads the typed documents — the
:class:`PlanDocument`, every :class:`ReportWorker`, the :class:`Prediction` — and
names each :class:`Difference`; :func:`child_failed_root_cause` reads torchrun's own
summary of a failure out of its stderr.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..documents._plan import PlanDocument
from ..documents._report import Difference, Prediction, ReportWorker
from ..launch._spec import WORKER_ENV_KEYS

__all__ = ["RootCause", "child_failed_root_cause", "compare", "relevant_env"]

_ENV_PREFIXES = ("TORCHELASTIC_", "TORCH_NCCL_", "NCCL_", "GLOO_")
_ENV_KEYS = {*WORKER_ENV_KEYS, "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES"}


def relevant_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables torchrun (and the GPU stack) set — never the rest of the user's environment."""
    return {k: v for k, v in sorted(env.items()) if k in _ENV_KEYS or k.startswith(_ENV_PREFIXES)}


def compare(plan: PlanDocument, prediction: Prediction | None, workers: Sequence[ReportWorker], *,
            backend: str) -> list[Difference]:  # fmt: skip
    """Every way the observed workers differ from the plan and the predicted results.

    ``prediction`` None: nothing was simulated, so only the layout and env are compared.
    A rank predicted to fail agrees when it fails with the predicted error or one of its
    alternatives (see :meth:`Prediction.accepted_errors`), compared by ``error_key``.
    """
    from ._predict import error_key

    results = (prediction.results if prediction is not None else None) or {}
    differences: list[Difference] = []
    observed = {w.rank: w for w in workers}
    for expected in plan.workers:
        rank = expected.rank
        worker = observed.get(rank)
        if worker is None:
            differences.append(Difference(rank, "reported", True, False))
            continue
        for field in ("local_rank", "group_rank"):
            if getattr(worker, field) != getattr(expected, field):
                differences.append(Difference(rank, field, getattr(expected, field), getattr(worker, field)))
        for key, value in expected.env.items():
            if key not in worker.env:
                differences.append(Difference(rank, f"env.{key}", value, None))
            elif value is not None and worker.env[key] != value:  # None: known only at run time
                differences.append(Difference(rank, f"env.{key}", value, worker.env[key]))
        observed_error = worker.error.text if worker.error is not None else None
        accepted = prediction.accepted_errors(rank) if prediction is not None else ()
        if accepted or observed_error:
            if not (observed_error and any(error_key(e) == error_key(observed_error) for e in accepted)):
                differences.append(Difference(rank, "error", accepted[0] if accepted else None, observed_error))
        elif prediction is not None and str(rank) in results and worker.result != results[str(rank)]:
            differences.append(Difference(rank, "result", results[str(rank)], worker.result))
        if backend == "nccl" and worker.physical_gpu != expected.gpu:
            differences.append(Difference(rank, "gpu", expected.gpu, worker.physical_gpu))
    for rank in sorted(set(observed) - {w.rank for w in plan.workers}):
        differences.append(Difference(rank, "reported", False, True))
    return differences


@dataclass(frozen=True, slots=True)
class RootCause:
    """The failure torchrun names first: which rank, with what exit code, and its last error line."""

    rank: int
    local_rank: int
    exit_code: int
    host: str
    message: str | None


_ROOT = re.compile(
    r"Root Cause \(first observed failure\):\s*\[\d+\]:\s*time\s*:[^\n]*\n\s*host\s*:\s*(?P<host>[^\n]*)\n\s*"
    r"rank\s*:\s*(?P<rank>\d+) \(local_rank: (?P<local>\d+)\)\s*\n\s*exitcode\s*:\s*(?P<code>-?\d+)"
)
_RANK_LINE = re.compile(r"^\[rank(?P<rank>\d+)\]: (?P<text>\w+(?:\.\w+)*(?:Error|Exception|Exit)\b.*)$", re.M)


def child_failed_root_cause(stderr: str) -> RootCause | None:
    """The root cause torchrun printed (rank, local rank, exit code, the worker's last error line)."""
    match = _ROOT.search(stderr)
    if not match:
        return None
    rank = int(match["rank"])
    lines = [m["text"] for m in _RANK_LINE.finditer(stderr) if int(m["rank"]) == rank]
    return RootCause(rank=rank, local_rank=int(match["local"]), exit_code=int(match["code"]),
                     host=match["host"].strip(), message=lines[-1].strip() if lines else None)  # fmt: skip
