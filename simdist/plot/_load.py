"""Reading simdist documents and telling them apart by their ``schema`` key.

Every problem with the input becomes a one-line :class:`ConfigError` naming the
file, so ``simdist plot`` can answer with exit status 2 and no traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._errors import ConfigError

PLAN, TRACE, REPORT = "simdist.plan/1", "simdist.trace/1", "simdist.report/1"
SCHEMAS = (PLAN, TRACE, REPORT)

# The keys each drawing reads; checked up front so a half-written file fails with a
# sentence, not a KeyError deep inside matplotlib.
_PLAN_KEYS = ("launch", "world_size", "nodes", "workers")
_NODE_KEYS = ("node_rank", "group_rank", "nproc", "gpus", "gpu_count")
_WORKER_KEYS = ("rank", "local_rank", "group_rank", "node_rank", "gpu")
_REPORT_WORKER_KEYS = ("rank", "local_rank", "group_rank", "node_rank", "device")


def load(path: str | os.PathLike) -> dict:
    """Read a JSON document and check it is a plan, trace or report."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"cannot read {source}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"cannot read {source}: it is a folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    check(data, where=str(source))
    return data


def schema_of(data: object, where: str = "input") -> str:
    """The document's schema, or a ConfigError saying what was expected."""
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in SCHEMAS:
        found = f"schema {schema!r}" if schema is not None else "no 'schema' key"
        raise ConfigError(
            f"{where} is not a simdist plan, trace or report ({found}; expected one of {', '.join(SCHEMAS)}; "
            "make one with `simdist explain -f json` or `simdist simulate -f json`)"
        )
    return schema


def check(data: object, where: str = "input") -> str:
    """Validate the parts of a document the figures read; return its schema."""
    schema = schema_of(data, where)
    assert isinstance(data, dict)
    if schema == PLAN:
        check_plan(data, where)
    elif schema == TRACE:
        _require(data, ("events",), where, schema)
        if not isinstance(data["events"], list):
            raise ConfigError(f"{where}: malformed {schema} document: 'events' is not a list")
        for event in data["events"]:
            _require(event, ("t", "kind"), where, schema, "an event")
        if data.get("plan") is not None:
            check_plan(data["plan"], where, f"{schema} plan")
    else:
        _require(data, ("workers", "comparison"), where, schema)
        for worker in _list(data, "workers", where, schema):
            _require(worker, _REPORT_WORKER_KEYS, where, schema, "a worker")
        if data.get("plan") is not None:
            check_plan(data["plan"], where, f"{schema} plan")
    return schema


def check_plan(plan: object, where: str, what: str = PLAN) -> None:
    _require(plan, _PLAN_KEYS, where, what)
    assert isinstance(plan, dict)
    for node in _list(plan, "nodes", where, what):
        _require(node, _NODE_KEYS, where, what, "a node")
    for worker in _list(plan, "workers", where, what):
        _require(worker, _WORKER_KEYS, where, what, "a worker")


def _list(data: dict, key: str, where: str, what: str) -> list:
    value = data[key]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: malformed {what} document: {key!r} is not a list")
    return value


def _require(data: object, keys: tuple[str, ...], where: str, what: str, part: str = "") -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: malformed {what} document: {part or 'it'} is not an object")
    missing = [k for k in keys if k not in data]
    if missing:
        owner = f"{part} lacks" if part else "lacks"
        raise ConfigError(f"{where}: malformed {what} document: {owner} {', '.join(map(repr, missing))}")


def plan_of(data: dict, where: str = "input") -> dict:
    """The plan inside a plan, trace or report."""
    schema = check(data, where)
    if schema == PLAN:
        return data
    plan = data.get("plan")
    if plan is None:
        why = "the rendezvous never completed" if schema == TRACE else "it carries no prediction"
        raise ConfigError(f"{where}: this {schema} document has no plan ({why}), so there is no rank map to draw")
    return plan
