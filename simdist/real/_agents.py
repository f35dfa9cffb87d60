"""Start torchrun agents, bound every wait, and leave no process behind.

torchrun starts each worker in a session of its own (``start_new_session=True``), so
killing torchrun's process group does not reach the workers. We therefore record
the whole process tree while it runs and, on timeout or interrupt, ask torchrun to
stop (SIGTERM, which it forwards), then SIGKILL every process group we saw.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["AgentResult", "descendants", "run_agents"]

POLL_SECONDS = 0.05
GRACE_SECONDS = 3.0


@dataclass
class AgentResult:
    """What one torchrun agent did."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    pid: int | None = None  # the agent's own pid
    pids: list[int] = field(default_factory=list)  # the agent and every worker seen

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), depth first."""
    if not os.path.isdir("/proc"):
        return []
    tree = _children_map()
    found, stack = [], list(tree.get(pid, ()))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, ()))
    return found


def _start_time(pid: int) -> int | None:
    """The process' start time in clock ticks (with the pid, a unique identity); None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == b"Z" else int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    """Is ``pid`` running (and, given ``started``, still the same process, not a reused pid)?"""
    now = _start_time(pid)
    return now is not None and (started is None or now == started)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    for target in (lambda: os.killpg(pid, sig), lambda: os.kill(pid, sig)):
        try:
            target()
            return
        except (ProcessLookupError, PermissionError):
            continue


def run_agents(
    commands: Sequence[Sequence[str]],
    *,
    env: Mapping[str, str],
    timeout: float,
    cwd: str | None = None,
    stagger: float = 0.0,
    env_per_agent: Sequence[Mapping[str, str]] | None = None,
    on_poll: Callable[[], None] | None = None,
) -> list[AgentResult]:
    """Run one torchrun agent per command concurrently; return when all have ended.

    Each agent is killed (with its workers) if the whole run exceeds ``timeout``
    seconds, or if the caller is interrupted (Ctrl-C, SIGTERM, SIGHUP); nothing
    outlives this call. ``env_per_agent`` adds variables to one agent's environment each;
    ``on_poll`` is called between polls (to show progress; it must return quickly).
    """
    procs: list[subprocess.Popen] = []
    logs = []
    seen: list[dict[int, int | None]] = []  # pid -> start time, per agent
    timed_out: set[int] = set()  # agents still running at the deadline
    deadline = time.monotonic() + timeout
    with _signals_interrupt(), contextlib.ExitStack() as cleanup:
        cleanup.callback(_stop_all, procs, seen)
        for index, command in enumerate(commands):
            out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
            logs.append((out, err))
            agent_env = {**env, **(env_per_agent[index] if env_per_agent else {})}
            procs.append(
                subprocess.Popen(list(command), env=agent_env, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
            )
            seen.append({procs[-1].pid: _start_time(procs[-1].pid)})
            if stagger:
                time.sleep(stagger)
        while any(p.poll() is None for p in procs):
            for proc, pids in zip(procs, seen, strict=True):
                if proc.poll() is None:
                    _remember(pids, descendants(proc.pid))
            if time.monotonic() > deadline:
                timed_out = {i for i, p in enumerate(procs) if p.poll() is None}
                break
            if on_poll is not None:
                on_poll()
            time.sleep(POLL_SECONDS)
    results = []
    for index, (command, proc, (out, err), pids) in enumerate(zip(commands, procs, logs, seen, strict=True)):
        out.seek(0)
        err.seek(0)
        results.append(
            AgentResult(
                argv=list(command),
                returncode=proc.returncode,
                stdout=out.read(),
                stderr=err.read(),
                timed_out=index in timed_out,
                pid=proc.pid,
                pids=sorted(pids),
            )
        )
        out.close()
        err.close()
    return results


@contextlib.contextmanager
def _signals_interrupt():
    """SIGTERM and SIGHUP (a CI job cancelled, a terminal closed) unwind like Ctrl-C, so the
    agents, which run in sessions of their own and never see those signals, are stopped too."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; its own handling applies
        return

    received: list[int] = []

    def interrupt(signum, _frame):
        if not received:  # once: a second signal must not cut the clean-up short
            received.append(signum)
            raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _remember(pids: dict[int, int | None], found: list[int]) -> None:
    for pid in found:
        if pid not in pids:
            pids[pid] = _start_time(pid)


def _stop_all(procs: list[subprocess.Popen], seen: list[dict[int, int | None]]) -> None:
    """SIGTERM the agents (torchrun forwards it), then SIGKILL whatever is left."""
    running = [p for p in procs if p.poll() is None]
    for proc, pids in zip(procs, seen, strict=False):
        if proc.poll() is None:
            _remember(pids, descendants(proc.pid))
    for proc in running:
        _signal_group(proc.pid, signal.SIGTERM)
    end = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < end and any(p.poll() is None for p in running):
        time.sleep(POLL_SECONDS)
    for pids in seen:
        for pid, started in sorted(pids.items()):
            if alive(pid, started):
                _signal_group(pid, signal.SIGKILL)
    for proc in procs:
        try:
            proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the store binds it soon after)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def clean_launcher_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process' environment minus what would change torchrun's behaviour.

    Drops ``PET_*`` defaults, torchrun's own worker variables (in case we run inside
    a torchrun job) and the launcher variables a LaunchSpec states explicitly.
    """
    from ..launch._spec import LAUNCHER_ENV_KEYS, WORKER_ENV_KEYS

    # CUDA_VISIBLE_DEVICES too: the spec states it per node (the CLI takes the shell's value into it).
    dropped = {*WORKER_ENV_KEYS, *LAUNCHER_ENV_KEYS, "CUDA_VISIBLE_DEVICES"}
    env = dict(os.environ if base is None else base)
    return {k: v for k, v in env.items() if not k.startswith(("PET_", "TORCHELASTIC_")) and k not in dropped}
