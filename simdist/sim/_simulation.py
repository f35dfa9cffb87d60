"""simulate(): a whole torchrun launch on the virtual clock, from agents starting to exit.

Inputs are a LaunchSpec plus what the command line cannot say: when each machine
starts (given, or drawn from the seed), which machines fail and when, and (to
reproduce real mistakes) the ``--node-rank`` each machine actually passes. The
output is a :class:`Trace`. Nothing here reads the wall clock; every wait has a
timeout, so every simulation ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigError, EmptySchedule, SimulationError, WorkerError
from ..documents._trace import TraceEvent, TraceRecorder
from ..launch._addresses import is_loopback
from ..launch._plan import node_plan, worker_env
from ..launch._spec import LaunchSpec, resolve_rendezvous
from ._agent import Agent
from ._kernel import Interrupt, Kernel
from ._machine import SIGKILL, Machine, WorkerRun
from ._rendezvous import C10dRendezvous, RoundResult, StaticRendezvous
from ._world import World

# What a worker runs once started: a generator over kernel events that returns the worker's
# result (see simdist.program). It joins the world itself (``Simulation.join_world``) when its
# code calls init_process_group. None: the worker joins at once and works for ``work`` seconds.
WorkerProgram = Callable[["Simulation", Agent, WorkerRun, World], Generator[Any, Any, Any]]

__all__ = ["Failure", "SimOptions", "Simulation", "WorkerProgram", "parse_failure"]

MAX_EVENTS = 20_000_000  # a guard against a modelling bug, never reached by a sane launch
_FAILURE = re.compile(r"^\s*(\d+)(?::(\d+))?\s*@\s*([0-9]*\.?[0-9]+)\s*$")


@dataclass(frozen=True, slots=True)
class Failure:
    """Machine ``node`` (or only its worker ``local_rank``) dies at virtual time ``at``."""

    node: int
    at: float
    local_rank: int | None = None

    def __str__(self) -> str:
        where = f"{self.node}" if self.local_rank is None else f"{self.node}:{self.local_rank}"
        return f"{where}@{self.at:g}"


def parse_failure(text: str) -> Failure:
    """``NODE@T`` (a machine dies) or ``NODE:LOCAL_RANK@T`` (one worker dies)."""
    match = _FAILURE.match(text)
    if not match:
        raise ConfigError(f"--fail {text!r}: expected NODE@SECONDS or NODE:LOCAL_RANK@SECONDS, e.g. 1@30")
    node, local, at = match.groups()
    return Failure(node=int(node), at=float(at), local_rank=None if local is None else int(local))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    """Timings and what happens to the machines. Defaults are torch's or typical.

    Rendezvous timeouts come from the spec's ``--rdzv-conf`` (torch's defaults
    otherwise): static ``timeout`` 900 s; c10d ``join_timeout`` 600 s,
    ``last_call_timeout`` 30 s, ``read_timeout`` 60 s, keep-alive 5 s × 3.
    """

    seed: int = 0
    start_times: tuple[float, ...] | None = None  # one per machine; None: drawn from the seed
    start_jitter: float = 1.0  # drawn start times fall in [0, start_jitter)
    failures: tuple[Failure, ...] = ()
    node_ranks: tuple[int, ...] | None = None  # the --node-rank each machine passes (static)
    pids: tuple[int, ...] | None = None  # each agent's pid (c10d orders agents on one host by it)
    local_addrs: tuple[str | None, ...] | None = None  # each agent's --local-addr, if any
    agent_startup: float = 1.0  # torchrun's own start-up before it rendezvouses
    worker_startup: float = 1.0  # spawn + interpreter + imports, until init_process_group
    work: float = 1.0  # how long the default workload runs after init_process_group
    monitor_interval: float = 0.1
    exit_barrier_timeout: float = 300.0
    pg_timeout: float = 1800.0  # init_process_group's default for gloo (NCCL: 600)
    c10d_read_timeout: float = 60.0
    keep_alive_interval: float = 5.0
    keep_alive_max_attempt: int = 3

    def __post_init__(self) -> None:
        if self.start_times is not None:
            object.__setattr__(self, "start_times", tuple(float(t) for t in self.start_times))
            if any(not t >= 0 for t in self.start_times):  # NaN fails too
                raise ConfigError("--start-times must be numbers of seconds, not negative")
        for name in ("start_jitter", "agent_startup", "worker_startup", "work", "monitor_interval"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ConfigError(f"{name} must be a finite number of seconds, not negative")
        if self.monitor_interval == 0:
            raise ConfigError("monitor_interval must be positive")


class Simulation:
    """One run: the kernel, the machines, their agents, and the recorded trace."""

    def __init__(self, spec: LaunchSpec, options: SimOptions, program: WorkerProgram | None = None) -> None:
        self.spec = spec
        self.options = self._options_from_conf(spec, options)
        self.kernel = Kernel(options.seed)
        self.recorder = TraceRecorder(lambda: self.kernel.now)
        self.program = program
        self.machines = self._machines()
        self.setup = resolve_rendezvous(spec, group_rank0_host=None)
        self.env_run_id = self.setup.run_id  # None: torchrun draws a uuid4 (shown as a run-time value)
        self.run_id = self.setup.run_id if self.setup.run_id is not None else "<uuid4>"
        self.setup = dataclasses.replace(self.setup, run_id=self.run_id)
        self.rendezvous = StaticRendezvous(self) if self.setup.backend == "static" else C10dRendezvous(self)
        self.agents = [Agent(self, machine) for machine in self.machines]
        self.agents_by_descriptor = {agent.descriptor: agent for agent in self.agents}
        self.worlds: dict[tuple, World] = {}
        self.all_workers: list[WorkerRun] = []
        self._failures_due: list[Failure] = []  # injected failures whose time has not come yet
        self._agents_started = self._agents_ended = self._workers_live = 0
        self._settled = self.kernel.event()  # fires once every started agent has ended

    # -- set-up ---------------------------------------------------------------------------

    @staticmethod
    def _options_from_conf(spec: LaunchSpec, options: SimOptions) -> SimOptions:
        conf = spec.rdzv_options
        changes = {}
        for key, field_name in (
            ("read_timeout", "c10d_read_timeout"),
            ("keep_alive_interval", "keep_alive_interval"),
            ("keep_alive_max_attempt", "keep_alive_max_attempt"),
        ):
            if key in conf:
                changes[field_name] = type(getattr(options, field_name))(conf[key])
        return dataclasses.replace(options, **changes) if changes else options

    def _machines(self) -> list[Machine]:
        spec, options, rng = self.spec, self.options, self.kernel.rng
        node_ranks = options.node_ranks if options.node_ranks is not None else tuple(range(spec.max_nodes))
        count = len(node_ranks)
        if options.start_times is not None and len(options.start_times) != count:
            given = len(options.start_times)
            raise ConfigError(f"--start-times lists {given} time{'s' * (given != 1)} but there are {count} machines")
        starts = options.start_times or tuple(round(rng.uniform(0.0, options.start_jitter), 6) for _ in range(count))
        hosts = self._hosts(count)
        for failure in options.failures:
            if not 0 <= failure.node < count:
                raise ConfigError(f"--fail {failure}: there is no machine {failure.node} (machines are 0..{count - 1})")
            nproc = spec.nprocs[min(node_ranks[failure.node], spec.max_nodes - 1)]
            if failure.local_rank is not None and not 0 <= failure.local_rank < nproc:
                raise ConfigError(f"--fail {failure}: machine {failure.node} runs local ranks 0..{nproc - 1}")
        # pids grow in start order on each host: c10d breaks address ties by pid
        pids: dict[int, int] = {}
        next_pid: dict[str, int] = {}
        for index in sorted(range(count), key=lambda i: (starts[i], i)):
            host = hosts[index]
            next_pid[host] = next_pid.get(host, rng.randint(1000, 30000)) + rng.randint(1, 64)
            pids[index] = next_pid[host]
        if options.pids is not None:
            if len(options.pids) != count:
                raise ConfigError(f"pids lists {len(options.pids)} values but there are {count} machines")
            pids = dict(enumerate(options.pids))
        local = options.local_addrs or (None,) * count
        if len(local) != count:
            raise ConfigError(f"local_addrs lists {len(local)} values but there are {count} machines")
        return [Machine(i, node_ranks[i], hosts[i], pids[i], starts[i], local[i]) for i in range(count)]

    def _hosts(self, count: int) -> tuple[str, ...]:
        """Each machine's address: --hosts, or what the command line implies."""
        spec = self.spec
        if spec.hosts is not None and len(spec.hosts) == count:
            return spec.hosts
        setup = resolve_rendezvous(spec)
        anchor = setup.master_addr if setup.backend == "static" else setup.endpoint_host
        if anchor is None or is_loopback(anchor) or setup.mode != "explicit":
            return ("127.0.0.1",) * count  # a loopback address: every agent on one machine
        return tuple(anchor if i == 0 else f"node{i}" for i in range(count))

    # -- services for agents ------------------------------------------------------------------

    def record(self, kind: str, node: int | None = None, rank: int | None = None, **detail: Any) -> None:
        self.recorder.record(kind, node, rank, **detail)

    def worker_env(self, agent: Agent, round_: RoundResult, local_rank: int, base: int, world: int,
                   base_role: int, role_world: int) -> dict[str, str | None]:  # fmt: skip
        """The env torchrun gives this worker, from the plan's one rule book."""
        spec = self.spec
        node = node_plan(
            spec, min(agent.machine.node_rank, spec.max_nodes - 1), group_rank=round_.group_rank,
            host=agent.machine.host, base_rank=base, base_role_rank=base_role, role_world_size=role_world,
            world_size=world, nproc=agent.nproc,
        )  # fmt: skip
        return worker_env(
            spec,
            node=node,
            local_rank=local_rank,
            group_world_size=round_.group_world_size,
            master_addr=round_.master_addr,
            master_port=round_.master_port,
            run_id=self.env_run_id,
            use_agent_store=self.setup.use_agent_store,
            restart_count=agent.restart_count,
        )

    def world_for(self, round_: RoundResult, agent: Agent, size: int, *, asked: int | None = None,
                  timeout: float | None = None) -> World:  # fmt: skip
        # c10d: every agent re-rendezvouses into a new round, so a round of one store is a
        # generation (a later store, e.g. a job launched after the first one ended, starts
        # again from round 0). static: a restart is local and the new workers join their
        # peers' process group.
        if self.setup.backend == "c10d":
            key: tuple = ("c10d", round_.store.incarnation, round_.round)
        else:
            key = ("static",)
        if asked is not None and asked != size:  # init_process_group(world_size=…) that torchrun did not give
            key, size = (*key, "world_size", asked), asked
        if key not in self.worlds:
            self.worlds[key] = World(self.kernel, key, size, self.options.pg_timeout if timeout is None else timeout)
        return self.worlds[key]

    def world_of(self, agent: Agent, worker: WorkerRun, round_: RoundResult) -> World:
        """The world (default process group) this worker's init_process_group joins."""
        return self.world_for(round_, agent, int(worker.env["WORLD_SIZE"] or 0))

    def join_world(self, agent: Agent, worker: WorkerRun, round_: RoundResult, *, asked: int | None = None,
                   timeout: float | None = None) -> Generator[Any, Any, World]:  # fmt: skip
        """The worker's init_process_group: wait (on the virtual clock) until its world has formed.

        ``asked``: the world size the script passed, when it differs from torchrun's: the
        ranks then wait for peers that never come (more) or form a smaller group (fewer).
        """
        world = self.world_for(round_, agent, int(worker.env["WORLD_SIZE"] or 0), asked=asked, timeout=timeout)
        worker.world = world
        yield from world.init(worker.rank, worker)
        self.record("process_group_ready", agent.machine.index, worker.rank, world_size=world.size)
        return world

    def worker_life(self, agent: Agent, worker: WorkerRun, round_: RoundResult):
        kernel, options = self.kernel, self.options
        self.all_workers.append(worker)
        self._workers_live += 1
        try:
            yield kernel.timeout(options.worker_startup)
            self.record("worker_start", agent.machine.index, worker.rank, local_rank=worker.local_rank)
            if self.program is None:
                yield from self.join_world(agent, worker, round_)
                yield kernel.timeout(options.work)
                worker.result = None
            else:
                worker.result = yield from self.program(self, agent, worker, round_)
            worker.exit_code, worker.ended_at = 0, kernel.now
            self.record("worker_exit", agent.machine.index, worker.rank, code=0)
            if worker.world is not None:
                worker.world.leave(worker.rank, worker, finished=True)
        except Interrupt as interrupt:
            worker.exit_code, worker.ended_at = int(interrupt.cause), kernel.now
            signal_name = "SIGKILL" if worker.exit_code == SIGKILL else "SIGTERM"
            self.record("worker_exit", agent.machine.index, worker.rank, code=worker.exit_code, signal=signal_name)
            if worker.world is not None:
                worker.world.leave(worker.rank, worker)
        except WorkerError as error:
            code = error.exit_code
            worker.exit_code, worker.ended_at = code, kernel.now
            worker.error = f"{error.kind}: {error.message}"
            extra = {"alternatives": list(error.alternatives)} if error.alternatives else {}
            self.record("worker_exit", agent.machine.index, worker.rank, code=code, error=error.kind,
                        message=error.message, **extra)  # fmt: skip
            if worker.world is not None:
                worker.world.leave(worker.rank, worker)
        finally:
            self._workers_live -= 1
            self._check_settled()

    def kill_worker(self, worker: WorkerRun, signal_code: int) -> None:
        if worker.exit_code is None and worker.process is not None and worker.process.is_alive:
            worker.process.interrupt(signal_code)

    # -- running ------------------------------------------------------------------------------

    def _inject(self, failure: Failure):
        yield self.kernel.timeout(failure.at)
        self._failures_due.remove(failure)
        agent = self.agents[failure.node]
        if failure.local_rank is None:
            if agent.alive and agent.process is not None:
                self.record("node_failure", failure.node, at=failure.at)
                agent.kill()
            else:
                self._missed(failure, agent)
            return
        for worker in agent.workers:
            if worker.local_rank == failure.local_rank and worker.exit_code is None:
                self.record("worker_failure", failure.node, worker.rank, at=failure.at)
                self.kill_worker(worker, SIGKILL)
                return
        self._missed(failure, agent)

    def _missed(self, failure: Failure, agent: Agent) -> None:
        """Say so when ``--fail`` hits nothing: a failure that silently does nothing misleads."""
        if agent.process is None:
            why = f"machine {failure.node}'s torchrun has not started"
        elif agent.killed:
            why = f"machine {failure.node} is already dead"
        elif agent.exit_code is not None or not agent.alive:
            why = f"machine {failure.node}'s torchrun has already exited"
        else:
            why = f"machine {failure.node} runs no worker with LOCAL_RANK={failure.local_rank} at that moment"
        self.record("failure_missed", failure.node, failure=str(failure), why=why)

    def start(self) -> None:
        """Schedule every machine whose start time is known, and the injected failures."""
        for machine in self.machines:
            start = machine.start if machine.start != float("inf") else None
            self.record("machine", machine.index, host=machine.host, pid=machine.pid, node_rank=machine.node_rank,
                        start=start, static=self.setup.backend == "static")  # fmt: skip
        for agent in self.agents:
            if agent.machine.start != float("inf"):
                self._spawn_agent(agent)
        self._failures_due = list(self.options.failures)
        for failure in self.options.failures:
            self.kernel.process(self._inject(failure), name=f"fail {failure}")

    def start_machine(self, index: int) -> None:
        """Start machine ``index``'s torchrun now (for machines given no start time)."""
        agent = self.agents[index]
        if agent.process is None:
            agent.machine = dataclasses.replace(agent.machine, start=self.kernel.now)
            self.machines[index] = agent.machine
            self._spawn_agent(agent)

    def _spawn_agent(self, agent: Agent) -> None:
        self._agents_started += 1
        agent.process = self.kernel.process(agent.run(), name=f"agent{agent.machine.index}")
        agent.process.callbacks.append(self._agent_ended)

    def _agent_ended(self, _event) -> None:
        self._agents_ended += 1
        self._check_settled()

    # -- running: the public stepping API ---------------------------------------------------

    @property
    def now(self) -> float:
        """The virtual clock, in seconds."""
        return self.kernel.now

    @property
    def events(self) -> list[TraceEvent]:
        """What has happened so far, in order."""
        return self.recorder.events

    def run(self, until: float | None = None) -> bool:
        """Run until the launch settles, or (``until``) up to that virtual time; True once settled.

        The launch has settled when every started agent has ended and no worker runs;
        timers still scheduled then (nobody waits for them any more) are not run. With
        ``until``, time passes to exactly ``until`` whatever happens meanwhile.
        """
        with _gc_paused():
            try:
                self.kernel.run(until=self._settled if until is None else until, max_steps=MAX_EVENTS)
            except EmptySchedule:
                pass  # nothing left to happen: machines that never start, for instance
            except SimulationError:
                raise SimulationError("the simulation did not settle (a modelling bug); please report it") from None
        return self.settled()

    def settled(self) -> bool:
        """Every started agent has ended and no worker still runs (O(1): counted, not scanned)."""
        return self._agents_started > 0 and self._agents_ended == self._agents_started and self._workers_live == 0

    def _check_settled(self) -> None:
        if self.settled() and not self._settled.triggered:
            self._settled.succeed()

    def crash_machine(self, index: int) -> bool:
        """Machine ``index`` dies now (agent and workers); False if it was not running."""
        agent = self.agents[index]
        if not agent.alive or agent.process is None:
            return False
        self.record("node_failure", index, at=self.kernel.now)
        agent.kill()
        return True

    def running_workers(self) -> list[WorkerRun]:
        """Workers alive now, in machine then local-rank order."""
        return [w for a in self.agents for w in a.workers if w.exit_code is None]

    def note_missed_failures(self) -> None:
        """Failures whose time never came: the launch was over before them."""
        for failure in self._failures_due:
            self.record("failure_missed", failure.node, failure=str(failure),
                        why=f"the launch had ended at t={self.kernel.now:g}s")  # fmt: skip
        self._failures_due = []


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic GC while events run.

    The loop allocates millions of short-lived events and generators; GC passes over
    an ever larger heap make big launches grow faster than linearly (4,096 nodes × 8:
    about 5 s with GC, 3 s without). Cycles left behind are collected once GC resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
