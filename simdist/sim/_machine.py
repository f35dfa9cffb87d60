"""The parts of a simulated launch that every layer of the simulator names: machines and worker runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._kernel import Process

__all__ = ["SIGKILL", "SIGTERM", "Machine", "WorkerRun"]

SIGKILL, SIGTERM = -9, -15  # exit codes of a worker killed by that signal, as torch reports them


@dataclass(frozen=True, slots=True)
class Machine:
    """One machine taking part: where its agent runs and what it was told."""

    index: int
    node_rank: int  # the --node-rank its torchrun command passes
    host: str
    pid: int  # the agent's pid (c10d orders agents on one host by it)
    start: float  # when its torchrun starts, virtual seconds
    local_addr: str | None = None  # --local-addr: the address c10d knows the agent by

    @property
    def addr(self) -> str:
        """The agent's address in its c10d descriptor: --local-addr, else the host's FQDN."""
        return self.local_addr or self.host


@dataclass
class WorkerRun:
    """One worker process of one attempt."""

    rank: int
    local_rank: int
    node: int
    attempt: int
    env: dict[str, str | None]
    process: Process | None = None
    exit_code: int | None = None
    result: Any = None
    error: str | None = None
    ended_at: float = 0.0
    world: Any = None  # the World it joined (init_process_group), once it has
    stdout: str = ""  # what it printed, when its program is a script or scenario that prints
    stderr: str = ""
    error_file: str | None = None  # the failure torch's @record wrote, if it did
    error_traceback: str | None = None
