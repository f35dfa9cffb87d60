"""Simulated torchrun agents and the workers they start.

An :class:`Agent` follows ``SimpleElasticAgent._invoke_run``: rendezvous, assign
ranks through the store, start workers, then poll them every ``monitor_interval``.
A failed group is restarted while restarts remain (``TORCHELASTIC_RESTART_COUNT``
counts up); under c10d a waiting node makes healthy agents restart without spending
a restart; a finished agent waits at the exit barrier for the others.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, Protocol

from ..launch._messages import FailureRecord, child_failed_error
from ..launch._spec import LaunchSpec, RendezvousSetup
from ._kernel import Interrupt, Kernel, Process
from ._machine import SIGKILL, SIGTERM, Machine, WorkerRun
from .._errors import RendezvousFailure, StoreError
from ._rendezvous import Rendezvous, RoundResult

__all__ = ["Agent", "AgentHost"]


class AgentHost(Protocol):
    """What an agent needs from the simulation around it (the :class:`Simulation` provides it)."""

    kernel: Kernel
    spec: LaunchSpec
    setup: RendezvousSetup
    options: Any  # SimOptions: timings
    rendezvous: Rendezvous

    def record(self, kind: str, node: int | None = None, rank: int | None = None, **detail: Any) -> None: ...

    def worker_env(self, agent: Agent, round_: RoundResult, local_rank: int, base: int, world: int,
                   base_role: int, role_world: int) -> dict[str, str | None]: ...  # fmt: skip

    def worker_life(self, agent: Agent, worker: WorkerRun, round_: RoundResult) -> Generator[Any, Any, None]: ...

    def kill_worker(self, worker: WorkerRun, signal_code: int) -> None: ...

class Agent:
    """The torchrun agent (``LocalElasticAgent``) of one machine."""

    def __init__(self, sim: AgentHost, machine: Machine) -> None:
        self.sim = sim
        self.machine = machine
        self.descriptor = (machine.addr, machine.pid, 0)  # torch's _NodeDesc(addr, pid, local_id)
        self.alive = True
        self.remaining_restarts = sim.spec.max_restarts
        self.workers: list[WorkerRun] = []
        self.exit_code: int | None = None
        self.error: RendezvousFailure | None = None
        self.round: RoundResult | None = None
        self.process: Process | None = None
        self.killed = False
        self.phase = "idle"  # idle → starting → rendezvous → running → barrier → done
        self.phase_since = 0.0

    def _enter(self, phase: str) -> None:
        self.phase, self.phase_since = phase, self.sim.kernel.now

    @property
    def restart_count(self) -> int:
        return self.sim.spec.max_restarts - self.remaining_restarts

    @property
    def nproc(self) -> int:
        # A --node-rank beyond the spec's nodes (a launch mistake) still starts the last node's count.
        spec = self.sim.spec
        return spec.nprocs[min(self.machine.node_rank, spec.max_nodes - 1)]

    # -- the agent's life ------------------------------------------------------------------

    def run(self) -> Generator[Any, Any, int | None]:
        sim, kernel = self.sim, self.sim.kernel
        try:
            yield kernel.timeout(max(0.0, self.machine.start - kernel.now))
            self._enter("starting")
            sim.record("agent_start", self.machine.index, host=self.machine.host, pid=self.machine.pid,
                       node_rank=self.machine.node_rank)  # fmt: skip
            yield kernel.timeout(sim.options.agent_startup)
            yield from self._initialize_workers()
            while True:
                yield kernel.timeout(sim.options.monitor_interval)
                state = self._monitor()
                if state == "SUCCEEDED":
                    sim.record("group_succeeded", self.machine.index, attempt=self.restart_count)
                    yield from self._exit_barrier()
                    return self._exit(0)
                if state == "FAILED":
                    failed = [w for w in self.workers if w.exit_code not in (None, 0)]
                    if self.remaining_restarts > 0:
                        sim.record(
                            "group_restart",
                            self.machine.index,
                            reason="failed",
                            attempts_left=self.remaining_restarts,
                            max_restarts=sim.spec.max_restarts,
                            failed_ranks=[w.rank for w in failed],
                        )
                        self.remaining_restarts -= 1
                        yield from self._restart_workers()
                        continue
                    summary = self._child_failed_error(failed)
                    yield from self._stop_and_wait()
                    sim.record("group_failed", self.machine.index, failed_ranks=[w.rank for w in failed],
                               exit_codes=[w.exit_code for w in failed], summary=summary)  # fmt: skip
                    return self._exit(1)
                if sim.rendezvous.num_nodes_waiting(self) > 0:  # HEALTHY, but nodes wait to join
                    sim.record("group_restart", self.machine.index, reason="membership_change",
                               attempts_left=self.remaining_restarts, max_restarts=sim.spec.max_restarts)  # fmt: skip
                    yield from self._restart_workers()
        except RendezvousFailure as failure:
            self.error = failure
            self._stop_workers()
            sim.record("agent_error", self.machine.index, error=failure.kind, message=failure.message)
            return self._exit(1)
        except Interrupt:
            self.alive = False
            self.killed = True
            self._enter("done")
            sim.record("agent_killed", self.machine.index)
            sim.rendezvous.agent_gone(self, killed=True)
            return None

    def _exit(self, code: int) -> int:
        self.exit_code = code
        self.alive = False
        self._enter("done")
        self.sim.record("agent_exit", self.machine.index, code=code)
        self.sim.rendezvous.agent_gone(self)
        return code

    def kill(self) -> None:
        """The whole machine dies (its agent and every worker)."""
        if not self.alive:
            return
        for worker in self.workers:
            self.sim.kill_worker(worker, SIGKILL)
        self.alive = False
        if self.process is not None:
            self.process.interrupt("killed")

    # -- workers --------------------------------------------------------------------------

    def _initialize_workers(self):
        sim = self.sim
        self._enter("rendezvous")
        sim.record("rdzv_start", self.machine.index, backend=sim.setup.backend, attempt=self.restart_count)
        round_ = yield from sim.rendezvous.next_rendezvous(self)
        self.round = round_
        base, world, base_role, role_world = yield from self._assign_worker_ranks(round_)
        sim.record("ranks_assigned", self.machine.index, round=round_.round, store=round_.store.incarnation,
                   group_rank=round_.group_rank,
                   group_world_size=round_.group_world_size, ranks=[base, base + self.nproc - 1],
                   world_size=world, restart_count=self.restart_count)  # fmt: skip
        self.workers = []
        for local_rank in range(self.nproc):
            env = sim.worker_env(self, round_, local_rank, base, world, base_role, role_world)
            worker = WorkerRun(rank=base + local_rank, local_rank=local_rank, node=self.machine.index,
                               attempt=self.restart_count, env=env)  # fmt: skip
            self.workers.append(worker)
            worker.process = sim.kernel.process(sim.worker_life(self, worker, round_), name=f"rank{worker.rank}")
            sim.record("worker_spawn", self.machine.index, worker.rank, local_rank=local_rank,
                       attempt=self.restart_count)  # fmt: skip
        self._enter("running")

    def _assign_worker_ranks(self, round_: RoundResult):
        """torch's slow path, over the store: role_info/<g>, then assigned_ranks/<g>."""
        sim = self.sim
        spec = sim.spec
        store, prefix, timeout = round_.store, round_.prefix, round_.store_timeout
        group_rank, group_world = round_.group_rank, round_.group_world_size
        if spec.env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1":
            world = group_world * self.nproc
            return group_rank * self.nproc, world, group_rank * self.nproc, world
        role = spec.role[min(self.machine.node_rank, spec.max_nodes - 1)]
        store.set(f"{prefix}torchelastic/role_info/{group_rank}", json.dumps([role, group_rank, self.nproc]))
        try:
            if group_rank == 0:
                keys = [f"{prefix}torchelastic/role_info/{i}" for i in range(group_world)]
                infos = [json.loads(v) for v in (yield store.wait(keys, timeout))]
                base = 0
                role_sizes: dict[str, int] = {}
                for info_role, _, lws in infos:
                    role_sizes[info_role] = role_sizes.get(info_role, 0) + lws
                role_bases: dict[str, int] = {}
                total = sum(lws for _, _, lws in infos)
                for i, (info_role, _, lws) in enumerate(infos):
                    value = [base, total, role_bases.get(info_role, 0), role_sizes[info_role]]
                    store.set(f"{prefix}torchelastic/assigned_ranks/{i}", json.dumps(value))
                    base += lws
                    role_bases[info_role] = role_bases.get(info_role, 0) + lws
            (assigned,) = yield store.wait([f"{prefix}torchelastic/assigned_ranks/{group_rank}"], timeout)
        except StoreError as error:
            raise RendezvousFailure.from_store(error) from None
        return tuple(json.loads(assigned))

    def _child_failed_error(self, failed: list[WorkerRun]) -> str:
        def record(worker: WorkerRun, code: int) -> FailureRecord:
            pid = self.machine.pid + 1 + worker.local_rank + 8 * worker.attempt  # simulated worker pids
            ended = worker.ended_at if worker.exit_code is not None else self.sim.kernel.now  # SIGTERM'd now
            return FailureRecord(worker.rank, worker.local_rank, code, pid, self.machine.host, ended,
                                 worker.error_file, worker.error_traceback)  # fmt: skip

        first = min(failed, key=lambda w: (w.ended_at, w.local_rank))
        siblings = [record(w, w.exit_code) for w in failed if w is not first]
        siblings += [record(w, -15) for w in self.workers if w.exit_code is None]  # about to get SIGTERM
        siblings.sort(key=lambda f: f.local_rank)
        script = self.sim.spec.script[0]
        return child_failed_error(script, record(first, first.exit_code), siblings)

    def _monitor(self) -> str:
        codes = [w.exit_code for w in self.workers]
        if any(code not in (None, 0) for code in codes):
            return "FAILED"
        if codes and all(code == 0 for code in codes):
            return "SUCCEEDED"
        return "HEALTHY"

    def _stop_workers(self) -> None:
        for worker in self.workers:
            if worker.exit_code is None:
                self.sim.kill_worker(worker, SIGTERM)

    def _stop_and_wait(self):
        """SIGTERM the running workers and wait until they are gone, as torch's _stop_workers does."""
        running = [w.process for w in self.workers if w.exit_code is None and w.process is not None]
        self._stop_workers()
        for process in running:
            yield process

    def _restart_workers(self):
        yield from self._stop_and_wait()
        yield from self._initialize_workers()

    def _exit_barrier(self):
        """Wait (up to exit_barrier_timeout) until every agent's group has finished."""
        sim = self.sim
        store = self.round.store if self.round else None
        if store is None or not store.alive:
            return
        self._enter("barrier")
        key = f"{self.round.prefix}torchelastic/agent/terminal_state"
        count = store.add(f"{key}/num_members", 1)
        done = f"{key}/last_member"
        if count >= self.round.group_world_size:
            store.set(done, True)
        sim.record("exit_barrier", self.machine.index, arrived=count, of=self.round.group_world_size)
        try:
            yield store.wait([done], sim.options.exit_barrier_timeout)
        except StoreError as error:
            sim.record("exit_barrier_timeout", self.machine.index, error=error.kind, message=error.message)
