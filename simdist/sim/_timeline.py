"""A trace as a story: one time-stamped line per event, then the verdict."""

from __future__ import annotations

from collections.abc import Callable

from ..documents._trace import Trace, TraceEvent

__all__ = ["human_bytes", "render_output", "render_timeline"]

MAX_LINES = 400  # beyond this the middle is elided (the JSON trace keeps everything)


def _ranks(detail: dict) -> str:
    low, high = detail["ranks"]
    return f"RANK {low}" if low == high else f"RANKs {low}–{high}"


SENTENCES: dict[str, Callable[[TraceEvent], str]] = {
    "machine": lambda e: f"machine {e.node} is {e.detail['host']} (pid {e.detail['pid']}"
    + (f", --node-rank {e.detail['node_rank']}" if e.detail.get("static", True) else "") + "), "
    + ("its torchrun never starts" if e.detail["start"] is None else f"torchrun starts at t={e.detail['start']:g}s"),
    "agent_start": lambda e: "torchrun starts",
    "rdzv_start": lambda e: f"{e.detail['backend']} rendezvous" + (f" (attempt {e.detail['attempt']})" if e.detail["attempt"] else ""),
    "store_listen": lambda e: f"hosts the {'rendezvous ' if e.detail.get('purpose') else ''}TCPStore on "
    f"{e.detail['addr']}:{e.detail['port']}",
    "store_connect": lambda e: f"connected to the store on machine {e.detail['store_on']} "
    f"({e.detail['clients']} client{'s' * (e.detail['clients'] != 1)} so far)",
    "rdzv_join": lambda e: f"joins round {e.detail['round']} ({e.detail['participants']} participant"
    f"{'s' * (e.detail['participants'] != 1)})",
    "rdzv_wait_list": lambda e: f"round is full or complete: waits for round {e.detail['round']}",
    "rdzv_complete": lambda e: f"round {e.detail['round']} complete; group ranks by sorted (addr, pid): machines "
    + ", ".join(map(str, e.detail["order"])),
    "rdzv_dead_node": lambda e: f"declared dead (no keep-alive for {e.detail.get('after', 15):g}s): removed",
    "rdzv_closed": lambda e: "closes the rendezvous (torch shuts it down on exit)",
    "ranks_assigned": lambda e: f"GROUP_RANK={e.detail['group_rank']}/{e.detail['group_world_size']} → "
    f"{_ranks(e.detail)} of WORLD_SIZE={e.detail['world_size']}"
    + (f", TORCHELASTIC_RESTART_COUNT={e.detail['restart_count']}" if e.detail["restart_count"] else ""),
    "worker_spawn": lambda e: f"spawns worker LOCAL_RANK={e.detail['local_rank']}",
    "worker_start": lambda e: "worker running, calls init_process_group",
    "process_group_ready": lambda e: f"process group ready (WORLD_SIZE={e.detail['world_size']})",
    "worker_exit": lambda e: "worker exits "
    + (f"by {e.detail['signal']}" if "signal" in e.detail else f"with code {e.detail['code']}")
    + (f": {e.detail['error']}: {e.detail['message']}" if "error" in e.detail else ""),
    "worker_failure": lambda e: "✗ injected failure: worker killed (SIGKILL)",
    "node_failure": lambda e: "✗ injected failure: machine dies (agent and workers)",
    "failure_missed": lambda e: f"⚠ --fail {e.detail['failure']} hits nothing: {e.detail['why']}",
    "group_succeeded": lambda e: "all local workers exited 0",
    "group_restart": lambda e: (
        f"worker group FAILED (ranks {e.detail.get('failed_ranks')}). {e.detail['attempts_left']}/"
        f"{e.detail['max_restarts']} attempts left; will restart worker group"
        if e.detail["reason"] == "failed"
        else "new nodes are waiting: restarts workers (does not count as a restart)"
    ),
    "group_failed": lambda e: f"worker group FAILED, no restarts left (exit codes {e.detail['exit_codes']}):\n"
    + "\n".join(" " * 32 + line for line in e.detail["summary"].splitlines()),
    "exit_barrier": lambda e: f"waits at the exit barrier ({e.detail['arrived']}/{e.detail['of']} agents done)",
    "exit_barrier_timeout": lambda e: f"exit barrier: {e.detail['error']}: {e.detail['message']} (ignored)",
    "agent_error": lambda e: f"✗ torchrun fails: {e.detail['error']}" + (f": {e.detail['message']}" if e.detail["message"] else ""),
    "agent_killed": lambda e: "agent gone",
    "agent_exit": lambda e: f"torchrun exits with code {e.detail['code']}",
    "outcome": lambda e: f"outcome: {e.detail['outcome']}",
    "collective": lambda e: f"{e.detail['op']}#{e.detail['seq']} on {e.detail['group']}: {e.detail['algorithm']}, "
    f"{human_bytes(e.detail['bytes'])}, {e.detail['steps']} step{'s' * (e.detail['steps'] != 1)}, "
    f"{(e.detail['end'] - e.detail['start']) * 1e6:.1f} µs, algbw {e.detail['algbw'] / 1e9:.2f} GB/s, "
    f"busbw {e.detail['busbw'] / 1e9:.2f} GB/s",
    "collective_step": lambda e: f"  step {e.detail['step'] + 1}/{e.detail['steps']} {e.detail['phase']}: "
    + ", ".join(f"{x['src']}→{x['dst']} chunk {x['chunk']}" for x in e.detail["transfers"][:6])
    + (" …" if len(e.detail["transfers"]) > 6 else ""),
    "p2p": lambda e: f"send {e.detail['src']}→{e.detail['dst']} (tag {e.detail['tag']}, {human_bytes(e.detail['bytes'])})",
    "collective_mismatch": lambda e: "✗ collective mismatch: " + "; ".join(f"rank {r}: {w}" for r, w in e.detail["pending"].items()),
    "deadlock": lambda e: "✗ deadlock: " + "; ".join(f"rank {r}: {w}" for r, w in e.detail["pending"].items()),
}


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"



def _line(event: TraceEvent) -> str:
    where = f"node {event.node}" if event.node is not None else ""
    who = f"rank {event.rank}" if event.rank is not None else ""
    sentence = SENTENCES.get(event.kind, lambda e: f"{e.kind} {e.detail}")(event)
    return f"{event.t:10.3f}s  {where:<8} {who:<9} {sentence}"


def render_output(trace: Trace, local_ranks: set[int] | None = None, max_lines: int = 200) -> list[str]:
    """What the workers printed, as torchrun's ``--tee`` shows it: ``[default0]:line`` per local rank.

    Grouped by machine (each machine's torchrun prints its own workers) and attempt;
    ``local_ranks`` keeps only those, as torchrun's ``--local-ranks-filter`` does.
    """
    lines: list[str] = []
    machines = {o.node for o in trace.output}
    shown = 0
    group = None
    for output in sorted(trace.output, key=lambda o: (o.node, o.attempt, o.local_rank)):
        if local_ranks is not None and output.local_rank not in local_ranks:
            continue
        head = []
        if len(machines) > 1:
            head.append(f"node {output.node}")
        if output.attempt:
            head.append(f"attempt {output.attempt} (after {output.attempt} restart{'s' * (output.attempt != 1)})")
        if head and (output.node, output.attempt) != group:
            lines.append(f"  — {', '.join(head)} —")
        group = (output.node, output.attempt)
        prefix = f"[{output.role}{output.local_rank}]:"
        for text in (output.stdout, output.stderr):
            for line in text.splitlines():
                if shown == max_lines:
                    lines.append("  … more output (see --format json) …")
                    shown += 1
                if shown < max_lines:
                    lines.append(f"{prefix}{line}")
                shown += 1
    return lines


def render_timeline(trace: Trace, local_ranks: set[int] | None = None) -> str:
    """The launch as text: events in order, elided in the middle when long, the output, then the verdict."""
    events = [e for e in trace.events if e.kind != "outcome"]
    if len(events) > MAX_LINES:  # format only the lines shown: big launches record millions
        hidden = len(events) - MAX_LINES
        lines = [_line(e) for e in events[: MAX_LINES // 2]]
        lines.append(f"{'':12}… {hidden} more events (see --format json) …")
        lines += [_line(e) for e in events[-MAX_LINES // 2 :]]
    else:
        lines = [_line(e) for e in events]
    if trace.cost_model is not None and any(e.kind in ("collective", "p2p") for e in trace.events):
        lines.append(f"{'':12}collective times: {trace.cost_model.source}")
    results = [r for r in trace.results if r.result is not None or r.exit_code == 0]
    if any(r.result is not None for r in results):
        lines += ["", "Results:"]
        shown, hidden = results[:32], len(results) - 32
        lines += [f"  rank {r.rank:>4}: {r.result}" for r in shown]
        if hidden > 0:
            lines.append(f"  … {hidden} more ranks (see --format json) …")
    output = render_output(trace, local_ranks)
    if output:
        lines += ["", "Output:"] + output
    mark = "✓" if trace.ok else "✗"
    lines += ["", f"{mark} {trace.outcome}: {trace.diagnosis}"]
    return "\n".join(lines)
