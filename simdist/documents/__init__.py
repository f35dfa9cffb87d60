"""The documents each stage hands to the next: typed, frozen, and their JSON forms.

``PlanDocument`` (``simdist.plan/1``) is the layout a launch gets, ``Trace``
(``simdist.trace/1``) what a simulation produced, ``Report`` (``simdist.report/1``)
what a real torchrun run observed. Every surface (the CLI, the plots, real mode's
comparison) reads these objects, never raw dict keys; :mod:`._lives` holds the one
interpretation of trace events (agent phases, worker lives) that they share.

May import: the standard library and :mod:`simdist._errors`. Nothing above it.
"""

from ._load import SCHEMAS, Document, load_document, read_document, schema_of
from ._plan import PLAN_SCHEMA, PlanDocument, PlanNode, PlanWarning, PlanWorker, job_summary
from ._report import (
    REPORT_SCHEMA,
    AgentRun,
    Comparison,
    Device,
    Difference,
    ObservedError,
    Prediction,
    Report,
    ReportWorker,
)
from ._trace import OUTCOMES, TRACE_SCHEMA, RankResult, Trace, TraceEvent, TraceRecorder

__all__ = [
    "OUTCOMES",
    "PLAN_SCHEMA",
    "REPORT_SCHEMA",
    "SCHEMAS",
    "TRACE_SCHEMA",
    "AgentRun",
    "Comparison",
    "Device",
    "Difference",
    "Document",
    "ObservedError",
    "PlanDocument",
    "PlanNode",
    "PlanWarning",
    "PlanWorker",
    "Prediction",
    "RankResult",
    "Report",
    "ReportWorker",
    "Trace",
    "TraceEvent",
    "TraceRecorder",
    "job_summary",
    "load_document",
    "read_document",
    "schema_of",
]
