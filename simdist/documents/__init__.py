"""The documents each stage hands to the next: typed, frozen, and their JSON forms.

``PlanDocument`` (``simdist.plan/1``) is the layout a launch gets, ``Trace``
(``simdist.trace/1``) what a simulation produced, ``Report`` (``simdist.report/1``)
what a real torchrun run observed; ``CostModelSummary`` says, in both a trace and a
report, where the collective times come from. Every surface (the CLI, the plots, real mode's
comparison) reads these objects, never raw dict keys; :mod:`._lives` holds the one
interpretation of trace events (agent phases, worker lives) that they share.

May import: the standard library and :mod:`simdist._errors`. Nothing above it.
"""

__all__ = [
    "OUTCOMES",
    "PLAN_SCHEMA",
    "REPORT_SCHEMA",
    "SCHEMAS",
    "TRACE_SCHEMA",
    "AgentRun",
    "CollectiveTiming",
    "Comparison",
    "CostModelSummary",
    "Device",
    "Difference",
    "Document",
    "ObservedError",
    "PlanDocument",
    "PlanNode",
    "PlanWarning",
    "PlanWorker",
    "PredictedCollective",
    "Prediction",
    "RankResult",
    "Report",
    "ReportWorker",
    "TimedCall",
    "Trace",
    "TraceEvent",
    "TraceRecorder",
    "job_summary",
    "load_document",
    "read_document",
    "schema_of",
]

# Where each name lives. Loaded on first use: `simdist explain` needs the plan's types
# only, not the trace's or the report's (each frozen dataclass costs time to create).
_HOME = {
    "SCHEMAS": "_load", "Document": "_load", "load_document": "_load", "read_document": "_load",
    "schema_of": "_load",
    "PLAN_SCHEMA": "_plan", "PlanDocument": "_plan", "PlanNode": "_plan", "PlanWarning": "_plan",
    "PlanWorker": "_plan", "job_summary": "_plan",
    "REPORT_SCHEMA": "_report", "AgentRun": "_report", "Comparison": "_report", "Device": "_report",
    "Difference": "_report", "ObservedError": "_report", "Prediction": "_report", "Report": "_report",
    "ReportWorker": "_report", "CollectiveTiming": "_report", "PredictedCollective": "_report",
    "TimedCall": "_report",
    "CostModelSummary": "_cost",
    "OUTCOMES": "_trace", "TRACE_SCHEMA": "_trace", "RankResult": "_trace", "Trace": "_trace",
    "TraceEvent": "_trace", "TraceRecorder": "_trace",
}  # fmt: skip


def __getattr__(name: str):
    if name in _HOME:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({n for n in globals() if n.startswith("_")} | set(__all__))
