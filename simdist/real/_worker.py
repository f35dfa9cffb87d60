"""The program torchrun starts in real mode: ``python -m simdist.real._worker``.

Each worker does what a well-written training script does — ``set_device`` when it
uses CUDA, ``init_process_group(init_method="env://")`` — runs the scenario, and
reports what it saw: its environment, host, pid, device and result. The report goes
to a file on its own machine and, through torchrun's TCPStore, to the worker with
RANK 0, which writes every record it got into ``records.json`` on its machine.

Configuration comes from environment variables set by the launching simdist:
SIMDIST_SCENARIO, SIMDIST_OUT, SIMDIST_BACKEND (auto|gloo|nccl), SIMDIST_PG_TIMEOUT,
SIMDIST_TOKEN (tells this launch's records apart in the store).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from datetime import timedelta

from simdist.documents._io import write_atomic

RECORD_KEYS_PREFIX = "simdist/records"


def _choose_backend(torch, wanted: str) -> str:
    if wanted != "auto":
        return wanted
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if torch.cuda.is_available() and torch.cuda.device_count() >= local:
        return "nccl"
    return "gloo"


def _device(torch, backend: str) -> dict:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if backend == "nccl" and torch.cuda.is_available():
        index = torch.cuda.current_device()
        return {"type": "cuda", "index": index, "name": torch.cuda.get_device_name(index), "cuda_visible_devices": visible}
    return {"type": "cpu", "index": None, "name": None, "cuda_visible_devices": visible}


def main() -> int:
    try:
        import torch
        import torch.distributed as dist
    except ImportError as exc:  # pragma: no cover - the launcher checked before starting us
        print(f"simdist worker: torch is not importable: {exc}", file=sys.stderr)
        return 3

    from simdist.program._scenario import error_line, load_scenario, plain_result
    from simdist.real._report import relevant_env

    out = os.environ["SIMDIST_OUT"]
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ["LOCAL_RANK"])
    backend = _choose_backend(torch, os.environ.get("SIMDIST_BACKEND", "auto"))
    timeout = float(os.environ.get("SIMDIST_PG_TIMEOUT", "60"))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)  # the one line that prevents "Duplicate GPU detected"
        torch.set_default_device(f"cuda:{local_rank}")
    record = {
        "rank": rank,
        "local_rank": local_rank,
        "group_rank": int(os.environ["GROUP_RANK"]),
        "env": relevant_env(os.environ),  # never the rest of the user's environment: the store is unauthenticated
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "backend": backend,
        "torch_version": torch.__version__,
        "result": None,
        "error": None,
    }
    code = 0
    timing = None
    try:
        dist.init_process_group(backend=backend, init_method="env://", timeout=timedelta(seconds=timeout))
        record["device"] = _device(torch, backend)
        scenario = load_scenario(os.environ["SIMDIST_SCENARIO"])
        if os.environ.get("SIMDIST_TIME_COLLECTIVES", "1") != "0":  # time what the scenario calls
            from simdist.real._timing import install

            timing = install(dist, torch, backend)
        record["result"] = plain_result(scenario.func(dist))
    except BaseException as exc:  # the scenario's failure is data for the report
        record.setdefault("device", _device(torch, backend))
        record["error"] = {"type": type(exc).__name__, "message": error_line(exc),
                           "traceback": traceback.format_exc().splitlines()[-6:]}  # fmt: skip
        code = 1
    if timing is not None:
        timing.uninstall()
        record["collectives"] = timing.records
        record["collectives_dropped"] = timing.dropped
    write_atomic(os.path.join(out, f"rank{rank}.json"), json.dumps(record))
    _publish(record, rank, backend)
    if code:
        print(f"[rank{rank}]: {record['error']['type']}: {record['error']['message']}", file=sys.stderr, flush=True)
    return code


def _publish(record: dict, rank: int, backend: str) -> None:
    """Share the record through torchrun's store; RANK 0 collects them into records.json."""
    import torch.distributed as dist

    token = os.environ.get("SIMDIST_TOKEN", "run")
    world = int(os.environ["WORLD_SIZE"])
    try:
        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                              timeout=timedelta(seconds=float(os.environ.get("SIMDIST_GATHER_TIMEOUT", "30"))))  # fmt: skip
        store.set(f"{RECORD_KEYS_PREFIX}/{token}/{rank}", json.dumps(record))
        if rank != 0:
            return
        keys = [f"{RECORD_KEYS_PREFIX}/{token}/{r}" for r in range(world)]
        deadline = time.monotonic() + float(os.environ.get("SIMDIST_GATHER_TIMEOUT", "30"))
        records = {}
        while time.monotonic() < deadline and len(records) < world:
            for r, key in enumerate(keys):
                if r not in records and store.check([key]):
                    records[r] = json.loads(store.get(key))
            if len(records) < world:
                time.sleep(0.05)
        gathered = {"gathered_by": socket.gethostname(), "records": [records[r] for r in sorted(records)]}
        gathered.update(_predict(backend))
        write_atomic(os.path.join(os.environ["SIMDIST_OUT"], "records.json"), json.dumps(gathered))
    except Exception as exc:  # the local record still exists; say why gathering failed
        print(f"simdist worker: could not share the record through the store: {exc}", file=sys.stderr, flush=True)


def _predict(backend: str) -> dict:
    """The simulator's prediction, computed here by RANK 0, as ``{"prediction": Prediction.to_dict()}``.

    This process has torch loaded already, so predicting here costs a fraction of a
    second where the launching simdist would spend seconds importing torch. The
    simulation sees only the launch spec and the scenario — never the real records.
    The launcher reads it back with ``Prediction.from_dict``.
    """
    spec_json = os.environ.get("SIMDIST_SPEC")
    if not spec_json:
        return {}
    from simdist.documents._report import Prediction

    try:
        from simdist.launch._spec import LaunchSpec
        from simdist.real._predict import predict, profile_from_env

        spec = LaunchSpec(**json.loads(spec_json))
        prediction = predict(spec, os.environ["SIMDIST_SCENARIO"], backend=backend,
                             pg_timeout=float(os.environ.get("SIMDIST_PG_TIMEOUT", "60")),
                             profile=profile_from_env(os.environ))  # fmt: skip
    except Exception as exc:  # a failed prediction is reported, never fatal to the real run
        prediction = Prediction(error=f"{type(exc).__name__}: {exc}")
    return {"prediction": prediction.to_dict()}


if __name__ == "__main__":
    sys.exit(main())
