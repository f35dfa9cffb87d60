"""From a finished simulation to a Trace: the outcome, the plan that was decided, and why.

The diagnosis names the root cause the way an operator would want to read it —
which node, what torch printed, and what that means — not just the last error.
"""

from __future__ import annotations

import dataclasses

from ..documents._plan import PlanDocument
from ..documents._trace import RankResult, Trace, WorkerOutput
from ..launch._make import make_plan
from ..launch._plan import spec_to_dict
from ._simulation import Simulation

__all__ = ["finish"]


def _final_plan(sim: Simulation) -> PlanDocument | None:
    """The plan as the last completed rendezvous decided it (None if none completed).

    Layout and GPUs come from the rule book for the order the rendezvous decided; each
    worker's env is the one its last attempt really received (restart counts differ by
    node when only some nodes restarted).
    """
    rounds = [(a, a.round) for a in sim.agents if a.round is not None and a.workers]
    if not rounds:
        return None
    if sim.setup.backend == "c10d":  # the last round of the last store (a later job starts a new one)
        latest = max((r.store.incarnation, r.round) for _, r in rounds)
        rounds = [(a, r) for a, r in rounds if (r.store.incarnation, r.round) == latest]
    by_rank = sorted(rounds, key=lambda ar: ar[1].group_rank)
    group_ranks = [r.group_rank for _, r in by_rank]
    if len(set(group_ranks)) != len(group_ranks) or group_ranks != list(range(len(group_ranks))):
        return None  # duplicate or missing group ranks: no consistent plan exists
    if any(a.machine.node_rank >= sim.spec.max_nodes for a, _ in by_rank):
        return None
    order = [a.machine.node_rank for a, _ in by_rank]
    if len(set(order)) != len(order):
        return None
    restart = max(a.restart_count for a, _ in by_rank)  # the plan's headline figure: the most restarts
    spec = sim.spec
    if spec.hosts is None:
        hosts = [m.host for m in sorted(sim.machines, key=lambda m: m.node_rank)]
        if len(hosts) == spec.max_nodes:
            spec = dataclasses.replace(spec, hosts=tuple(hosts))
    plan = make_plan(spec, order=order, restart_count=restart, master_port=by_rank[0][1].master_port).document()
    received = {w.rank: w.env for agent, _ in by_rank for w in agent.workers}
    return plan.with_workers(
        [dataclasses.replace(w, env=received.get(w.rank, w.env)) for w in plan.workers]
    )


def _results(sim: Simulation) -> tuple[RankResult, ...]:
    """The last attempt of every rank."""
    latest = {worker.rank: worker for worker in sim.all_workers}  # appended in start order: the last wins
    return tuple(
        RankResult(w.rank, w.node, w.local_rank, w.attempt, w.exit_code, w.error, w.result)
        for w in (latest[r] for r in sorted(latest))
    )


def _collective_problem(sim: Simulation):
    problems = [p for world in sim.worlds.values() for p in world.problems]
    return min(problems, key=lambda p: p.t) if problems else None


def _diagnose(sim: Simulation) -> tuple[str, str]:
    problem = _collective_problem(sim)
    if problem is not None:
        message = problem.message if problem.message.endswith(".") else problem.message + "."
        return problem.outcome, f"{message} At t={problem.t:g}s. A real job: {problem.real}."
    agents = sim.agents
    errors = [a for a in agents if a.error is not None]
    failed = [a for a in agents if a.exit_code == 1 and a.error is None]
    killed = [a for a in agents if a.killed]
    if errors:
        first = min(errors, key=lambda a: (_error_time(sim, a.machine.index), a.machine.index))
        t = _error_time(sim, first.machine.index)
        late = [m for m in sim.machines if m.start > t]
        cause = ""
        if killed and first.error.kind == "RendezvousConnectionError":  # the store's host died under it
            cause = " Root cause: " + ", ".join(f"node {a.machine.index} died" for a in killed) + "."
        elif late:
            never = [m.index for m in late if m.start == float("inf")]
            later = [m for m in late if m.start != float("inf")]
            parts = [f"node {i} never started" for i in never]
            parts += [f"node {m.index} started at t={m.start:g}s, after node {first.machine.index} gave up at t={t:g}s"
                      for m in later]  # fmt: skip
            cause = " Root cause: " + "; ".join(parts) + "."
        elif killed:
            cause = " Root cause: " + ", ".join(f"node {a.machine.index} died" for a in killed) + "."
        message = f"node {first.machine.index}: torch.distributed.{_qualify(first.error.kind)}"
        if first.error.message:
            message += f": {first.error.message}"
        others = [a.machine.index for a in errors if a is not first]
        if not message.endswith("."):
            message += "."
        if others:
            message += f" Node{'s' * (len(others) > 1)} {', '.join(map(str, others))} failed too."
        return "rendezvous_timeout", message + cause
    if killed and not failed and _recovered_without(sim, killed):
        world = sum(len(a.workers) for a in agents if not a.killed)
        lost = ", ".join(str(a.machine.index) for a in killed)
        return "ok", (f"node {lost} was lost; the survivors re-formed the job (elastic c10d) and finished with "
                      f"WORLD_SIZE={world}.")  # fmt: skip
    if failed or killed:
        culprit = _first_failed_worker(sim)
        if culprit is not None:
            worker, t = culprit
            how = f"exited with {worker.exit_code}" + {-9: " (SIGKILL)", -15: " (SIGTERM)"}.get(worker.exit_code, "")
            text = f"rank {worker.rank} (node {worker.node}, local_rank {worker.local_rank}) {how} at t={t:g}s"
            if worker.error:
                text += f": {worker.error}"
            if failed:
                k = sim.spec.max_restarts
                text += f"; ChildFailedError on node {failed[0].machine.index} after {k} restart{'s' * (k != 1)}"
            if killed:
                text += "; " + ", ".join(f"node {a.machine.index} was killed" for a in killed)
            return "worker_failed", text + "."
        return "worker_failed", ", ".join(f"node {a.machine.index} was killed" for a in killed) + "."
    restarts = max((a.restart_count for a in agents), default=0)
    started = [a for a in agents if a.process is not None]
    world = sum(len(a.workers) for a in started)
    text = "the agent finished" if len(started) == 1 else f"all {len(started)} agents finished"
    absent = [a.machine.index for a in agents if a.process is None]
    if absent:
        text += f" (node{'s' * (len(absent) > 1)} {', '.join(map(str, absent))} never started: not needed, " \
                f"the round closed at {len(started)} of {sim.spec.nnodes} nodes)"
    jobs = _separate_jobs(started)
    if len(jobs) > 1:
        # A c10d job launched after the previous one on the same endpoint ended gets a fresh store.
        text += f", as {len(jobs)} separate jobs (each a fresh rendezvous store): " + "; ".join(
            f"nodes {', '.join(str(a.machine.index) for a in job)} with WORLD_SIZE={sum(len(a.workers) for a in job)}"
            for job in jobs
        )
    else:
        text += f"; WORLD_SIZE={world}"
    if restarts:
        text += f" after {restarts} restart{'s' * (restarts != 1)}"
    return "ok", text + "."


def _separate_jobs(agents: list) -> list[list]:
    """The started agents grouped by the rendezvous store of their last round, in node order."""
    jobs: dict[int, list] = {}
    for agent in agents:
        key = agent.round.store.incarnation if agent.round is not None else -1
        jobs.setdefault(key, []).append(agent)
    return list(jobs.values())


def _recovered_without(sim: Simulation, killed: list) -> bool:
    """Did a later rendezvous round leave the dead nodes out and every survivor finish?"""
    survivors = [a for a in sim.agents if not a.killed and a.process is not None]
    if not survivors or any(a.exit_code != 0 for a in survivors):
        return False
    rounds = [a.round for a in survivors if a.round is not None]
    if not rounds or sim.setup.backend != "c10d":
        return False
    last = max(r.round for r in rounds)
    return all(r.round == last for r in rounds) and all(a.round is None or a.round.round < last for a in killed)


def _qualify(kind: str) -> str:
    if kind.startswith("Rendezvous"):
        return f"elastic.rendezvous.api.{kind}"
    return kind


def _error_time(sim: Simulation, node: int) -> float:
    for event in sim.recorder.events:
        if event.kind == "agent_error" and event.node == node:
            return event.t
    return float("inf")


def _first_failed_worker(sim: Simulation):
    for event in sim.recorder.events:
        if event.kind == "worker_exit" and event.detail.get("code") not in (0, -15):
            for worker in sim.all_workers:
                if worker.rank == event.rank and worker.node == event.node and worker.exit_code == event.detail["code"]:
                    return worker, event.t
    return None


def finish(sim: Simulation) -> Trace:
    """The trace of a simulation that has run: its events, plan, results, outcome and diagnosis."""
    sim.note_missed_failures()
    outcome, diagnosis = _diagnose(sim)
    missed = [e for e in sim.recorder.events if e.kind == "failure_missed"]
    if missed:
        diagnosis += " " + " ".join(f"(--fail {e.detail['failure']} hit nothing: {e.detail['why']}.)" for e in missed)
    sim.record("outcome", None, outcome=outcome)
    return Trace(
        seed=sim.options.seed,
        launch=spec_to_dict(sim.spec),
        events=tuple(sim.recorder.events),
        plan=_final_plan(sim),
        results=_results(sim),
        outcome=outcome,  # type: ignore[arg-type]
        diagnosis=diagnosis,
        machines=tuple(
            {"node": m.index, "node_rank": m.node_rank, "host": m.host, "pid": m.pid, "start": m.start}
            for m in sim.machines
        ),
        output=tuple(
            WorkerOutput(w.node, w.rank, w.local_rank, w.attempt, w.stdout, w.stderr, w.env.get("ROLE_NAME") or "default")
            for w in sim.all_workers if w.stdout or w.stderr
        ),
    )
