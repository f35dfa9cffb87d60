"""Reading any simdist document from a file and telling them apart by their ``schema`` key.

Every problem with the input becomes a one-line :class:`ConfigError` naming the file,
so a command can answer with exit status 2 and no traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._errors import ConfigError
from ._plan import PLAN_SCHEMA, PlanDocument
from ._report import REPORT_SCHEMA, Report
from ._trace import TRACE_SCHEMA, Trace

__all__ = ["SCHEMAS", "Document", "load_document", "read_document", "schema_of"]

SCHEMAS = (PLAN_SCHEMA, TRACE_SCHEMA, REPORT_SCHEMA)
Document = PlanDocument | Trace | Report


def load_document(path: str | os.PathLike) -> Document:
    """Read a JSON file holding a plan, trace or report."""
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
    except RecursionError:
        raise ConfigError(f"{source} is nested too deeply to be a simdist document") from None
    return read_document(data, where=str(source))


def read_document(data: object, where: str = "input") -> Document:
    """The typed document that parsed JSON ``data`` holds."""
    schema = schema_of(data, where)
    if schema == PLAN_SCHEMA:
        return PlanDocument.from_dict(data, where)
    if schema == TRACE_SCHEMA:
        return Trace.from_dict(data, where)
    return Report.from_dict(data, where)


def schema_of(data: object, where: str = "input") -> str:
    """The document's schema, or a ConfigError saying what was expected."""
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in SCHEMAS:
        found = f"schema {schema!r}" if isinstance(schema, (str, int, float, type(None))) else "a 'schema' that is not text"
        if schema is None:
            found = "no 'schema' key"
        raise ConfigError(
            f"{where} is not a simdist plan, trace or report ({found}; expected one of {', '.join(SCHEMAS)}; "
            "make one with `simdist explain -f json` or `simdist simulate -f json`)"
        )
    return schema
