"""Predicted versus observed: the ``simdist.report/1`` document and its comparison.

Pure data work (no torch): the real run's worker records are compared, rank by rank,
with the plan and with the simulated scenario results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..launch._spec import WORKER_ENV_KEYS

__all__ = ["REPORT_SCHEMA", "child_failed_root_cause", "compare", "observed_gpu", "relevant_env"]

REPORT_SCHEMA = "simdist.report/1"
_ENV_PREFIXES = ("TORCHELASTIC_", "TORCH_NCCL_", "NCCL_", "GLOO_")
_ENV_KEYS = {*WORKER_ENV_KEYS, "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES"}


def relevant_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables torchrun (and the GPU stack) set — never the rest of the user's environment."""
    return {k: v for k, v in sorted(env.items()) if k in _ENV_KEYS or k.startswith(_ENV_PREFIXES)}


def observed_gpu(device: dict | None) -> int | str | None:
    """The physical GPU a worker used: its CUDA index mapped through CUDA_VISIBLE_DEVICES."""
    if not device or device.get("type") != "cuda" or device.get("index") is None:
        return None
    index = device["index"]
    visible = device.get("cuda_visible_devices")
    if visible:
        listed = [v.strip() for v in visible.split(",")]
        if index < len(listed):
            value = listed[index]
            return int(value) if value.isdigit() else value
    return index


def compare(plan: dict, prediction: dict | None, records: list[dict], *, backend: str) -> list[dict]:
    """Every way the observed workers differ from the prediction.

    ``prediction`` holds the simulated ``results`` and ``errors`` by rank (string keys);
    a rank predicted to fail agrees when it fails with the same error (see ``error_key``).
    """
    from ._predict import error_key

    results = (prediction or {}).get("results") or {}
    errors = (prediction or {}).get("errors") or {}
    alternatives = (prediction or {}).get("alternatives") or {}
    differences: list[dict] = []
    observed = {r["rank"]: r for r in records}
    for worker in plan["workers"]:
        rank = worker["rank"]
        record = observed.get(rank)
        if record is None:
            differences.append({"rank": rank, "field": "reported", "predicted": True, "observed": False})
            continue
        for field in ("local_rank", "group_rank"):
            if record.get(field) != worker[field]:
                differences.append({"rank": rank, "field": field, "predicted": worker[field], "observed": record.get(field)})
        env = record.get("env", {})
        for key, value in worker["env"].items():
            if key not in env:
                differences.append({"rank": rank, "field": f"env.{key}", "predicted": value, "observed": None})
            elif value is not None and env[key] != value:
                differences.append({"rank": rank, "field": f"env.{key}", "predicted": value, "observed": env[key]})
        observed_error = f"{record['error']['type']}: {record['error']['message']}" if record.get("error") else None
        predicted_error = errors.get(str(rank))
        if predicted_error or observed_error:
            accepted = [predicted_error, *alternatives.get(str(rank), [])] if predicted_error else []
            if not (observed_error and any(error_key(e) == error_key(observed_error) for e in accepted)):
                differences.append({"rank": rank, "field": "error", "predicted": predicted_error,
                                    "observed": observed_error})  # fmt: skip
        elif prediction is not None and str(rank) in results and record.get("result") != results[str(rank)]:
            differences.append({"rank": rank, "field": "result", "predicted": results[str(rank)],
                                "observed": record.get("result")})  # fmt: skip
        if backend == "nccl":
            gpu = observed_gpu(record.get("device"))
            if gpu != worker["gpu"]:
                differences.append({"rank": rank, "field": "gpu", "predicted": worker["gpu"], "observed": gpu})
    for rank in sorted(set(observed) - {w["rank"] for w in plan["workers"]}):
        differences.append({"rank": rank, "field": "reported", "predicted": False, "observed": True})
    return differences


_ROOT = re.compile(
    r"Root Cause \(first observed failure\):\s*\[\d+\]:\s*time\s*:[^\n]*\n\s*host\s*:\s*(?P<host>[^\n]*)\n\s*"
    r"rank\s*:\s*(?P<rank>\d+) \(local_rank: (?P<local>\d+)\)\s*\n\s*exitcode\s*:\s*(?P<code>-?\d+)"
)
_RANK_LINE = re.compile(r"^\[rank(?P<rank>\d+)\]: (?P<text>\w+(?:\.\w+)*(?:Error|Exception|Exit)\b.*)$", re.M)


def child_failed_root_cause(stderr: str) -> dict | None:
    """The root cause torchrun printed (rank, local rank, exit code, the worker's last error line)."""
    match = _ROOT.search(stderr)
    if not match:
        return None
    rank = int(match["rank"])
    lines = [m["text"] for m in _RANK_LINE.finditer(stderr) if int(m["rank"]) == rank]
    return {
        "rank": rank,
        "local_rank": int(match["local"]),
        "exit_code": int(match["code"]),
        "host": match["host"].strip(),
        "message": lines[-1].strip() if lines else None,
    }
