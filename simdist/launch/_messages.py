"""Texts torch prints, reproduced for simulated events (formats checked against torch 2.13)."""

from __future__ import annotations

import signal
from dataclasses import dataclass

__all__ = ["FailureRecord", "child_failed_error"]

ERRORS_DOC = "https://pytorch.org/docs/stable/elastic/errors.html"


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One failed worker as torchrun's ChildFailedError lists it."""

    rank: int
    local_rank: int
    exitcode: int
    pid: int
    host: str
    t: float  # virtual time; torch prints a wall-clock timestamp here
    error_file: str | None = None  # what @record wrote: torchrun then prints the traceback it holds
    traceback: str | None = None


def _block(index: int, failure: FailureRecord) -> list[str]:
    if failure.exitcode < 0:
        name = signal.Signals(-failure.exitcode).name
        code = f"{failure.exitcode} (pid: {failure.pid})  ({name})"
        traceback = f"Signal {-failure.exitcode} ({name}) received by PID {failure.pid}"
    else:
        code = f"{failure.exitcode} (pid: {failure.pid}) "  # torch leaves this trailing space
        traceback = f"To enable traceback see: {ERRORS_DOC}"
        if failure.traceback:
            traceback = "\n".join(("" if i == 0 else "  ") + line for i, line in enumerate(failure.traceback.splitlines()))
    return [
        f"[{index}]:",
        f"  time      : t={failure.t:.3f}s (simulated)",
        f"  host      : {failure.host}",
        f"  rank      : {failure.rank} (local_rank: {failure.local_rank})",
        f"  exitcode  : {code}",
        f"  error_file: {failure.error_file or '<N/A>'}",
        f"  traceback : {traceback}",
    ]


def child_failed_error(script: str, root: FailureRecord, others: list[FailureRecord]) -> str:
    """The summary torchrun prints when a worker group fails for good."""
    body = [f"{script} FAILED"]
    failures = ["Failures:"]
    if others:
        for i, other in enumerate(others, start=1):
            failures += _block(i, other)
    else:
        failures.append("  <NO_OTHER_FAILURES>")
    root_lines = ["Root Cause (first observed failure):", *_block(0, root)]
    width = min(60, max(len(line) for line in body + failures + root_lines))
    return "\n".join(
        ["torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ", "=" * width, *body, "-" * width,
         *failures, "-" * width, *root_lines, "=" * width]
    )  # fmt: skip
