"""Simulated rendezvous: torchrun's static TCP and c10d dynamic backends.

Both are written the way torch 2.13 implements them, over :class:`SimStore`:

* static (``static_tcp_rendezvous.py``): the agent with ``--node-rank 0`` binds a
  TCPStore on its own machine; every agent (node 0 too) connects to
  ``master_addr:master_port`` and bumps a counter; node 0 waits until ``nnodes``
  clients joined. GROUP_RANK is ``--node-rank``. Restarts reuse the store.
* c10d (``dynamic_rendezvous.py``): a shared round state with participants, a wait
  list and a last-call deadline; the round closes at ``max_nodes`` at once or at
  ``min_nodes`` after ``last_call_timeout``; ranks follow the sorted node descriptors
  ``(addr, pid, local_id)``; a completed round only moves on once every participant
  has left it; silent nodes expire after ``keep_alive_interval × keep_alive_max_attempt``.

Errors carry torch's exception type and message (see ``RendezvousFailure``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._errors import RendezvousFailure, StoreError
from ..launch._addresses import is_loopback
from ..launch._spec import LaunchSpec, RendezvousSetup
from ._kernel import Kernel
from ._machine import Machine
from ._store import SimStore

__all__ = ["C10dRendezvous", "Participant", "Rendezvous", "RendezvousHost", "RoundResult", "StaticRendezvous"]


class Participant(Protocol):
    """An agent as the rendezvous sees it: its machine and its c10d node descriptor."""

    machine: Machine
    descriptor: tuple[str, int, int]  # torch's _NodeDesc(addr, pid, local_id)


class RendezvousHost(Protocol):
    """What a rendezvous needs from the simulation around it (the :class:`Simulation` provides it)."""

    kernel: Kernel
    spec: LaunchSpec
    setup: RendezvousSetup
    options: Any  # SimOptions: read timeouts and keep-alive
    machines: Sequence[Machine]
    agents_by_descriptor: Mapping[tuple, Participant]
    run_id: str

    def record(self, kind: str, node: int | None = None, rank: int | None = None, **detail: Any) -> None: ...


class Rendezvous(Protocol):
    """The interface both backends offer an agent."""

    def next_rendezvous(self, agent: Participant) -> Generator[Any, Any, RoundResult]: ...

    def num_nodes_waiting(self, agent: Participant) -> int: ...

    def agent_gone(self, agent: Participant, *, killed: bool = False) -> None: ...

SYNC_INTERVAL = 1.0  # torch's rendezvous state cache / SYNC back-off, seconds


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What ``next_rendezvous`` returns to an agent."""

    group_rank: int
    group_world_size: int
    round: int
    store: SimStore  # where _assign_worker_ranks keeps role_info / assigned_ranks
    prefix: str  # the PrefixStore prefix those keys live under
    master_addr: str | None
    master_port: int | None
    store_timeout: float


def _owner(sim: RendezvousHost, addr: str, client: int) -> str | None:
    """The host (machine address) a connection to ``addr`` reaches from machine ``client``.

    Machines with the same address are one physical host; a loopback address
    reaches the client's own host; an address no machine has reaches nobody.
    """
    if is_loopback(addr):
        return sim.machines[client].host
    for machine in sim.machines:
        if addr in (machine.host, machine.local_addr):
            return machine.host
    return None


class _HostedStores:
    """The stores agents host, by host address, each with an event that fires once it listens.

    Both backends use it: clients wait on :meth:`listening`, and a store goes with the
    agent process that hosts it.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.by_host: dict[str, SimStore] = {}
        self._listening: dict[str, Any] = {}
        self.started = 0  # stores started so far; each store's incarnation is its number

    def listening(self, host: str):
        if host not in self._listening:
            self._listening[host] = self.kernel.event()
        return self._listening[host]

    def start(self, host: str, store: SimStore) -> None:
        store.incarnation = self.started  # a store that restarts starts from round 0 again
        self.started += 1
        self.by_host[host] = store
        store.start()
        self.listening(host).succeed(store)

    def close_hosted_by(self, machine: int) -> None:
        for host, store in list(self.by_host.items()):
            if store.host == machine and store.alive:
                store.shutdown()
                del self.by_host[host]
                self._listening.pop(host, None)


def _c10d_connection_error() -> RendezvousFailure:
    return RendezvousFailure(
        "RendezvousConnectionError", "The connection to the C10d store has failed. See inner exception for details."
    )


# -- static -------------------------------------------------------------------------------


class StaticRendezvous:
    """``--rdzv-backend static``: one TCPStore on the node_rank-0 machine."""

    def __init__(self, sim: RendezvousHost) -> None:
        self.sim = sim
        self.servers = _HostedStores(sim.kernel)  # the store a node-0 agent bound, by host
        self._connected: dict[int, SimStore] = {}  # agent machine -> the store it talks to

    def next_rendezvous(self, agent: Participant) -> Generator[Any, Any, RoundResult]:
        sim, setup = self.sim, self.sim.setup
        kernel, machine = sim.kernel, agent.machine
        timeout = float(setup.timeout)
        port = setup.master_port
        store = self._connected.get(machine.index)
        if store is None:  # first rendezvous: create the TCPStore (restarts reuse it)
            if machine.node_rank == 0:
                if machine.host in self.servers.by_host:
                    raise RendezvousFailure(
                        "DistNetworkError",
                        "The server socket has failed to listen on any local network address. "
                        f"port: {port}, useIpv6: false, code: -98, name: EADDRINUSE, message: address already in use",
                    )
                server = SimStore(kernel, machine.index, setup.master_addr, port)
                self.servers.start(machine.host, server)
                # The server binds the wildcard address of *its* machine; clients dial master_addr.
                sim.record("store_listen", machine.index, addr=machine.host, port=port)
            target = _owner(sim, setup.master_addr, machine.index)
            store = yield from self._connect(agent, target, timeout)
            self._connected[machine.index] = store
            count = store.add("init/", 1)
            if count >= sim.spec.max_nodes:
                store.set("init/all_joined", True)
            sim.record("store_connect", machine.index, store_on=store.host, clients=count)
            if machine.node_rank == 0:  # the master's TCPStore constructor waits for all clients
                try:
                    yield store.wait(["init/all_joined"], timeout)
                except StoreError as error:
                    if error.kind == "DistStoreError":
                        joined = store.data.get("init/", 0)
                        raise RendezvousFailure(
                            "DistStoreError",
                            f"Timed out after {int(timeout) + 1} seconds waiting for clients. "
                            f"{joined}/{sim.spec.max_nodes} clients joined.",
                        ) from None
                    raise RendezvousFailure.from_store(error) from None
        return RoundResult(
            group_rank=machine.node_rank,
            group_world_size=sim.spec.max_nodes,
            round=0,
            store=store,
            prefix=f"{setup.run_id}/",
            master_addr=setup.master_addr,
            master_port=port,
            store_timeout=timeout,
        )

    def _connect(self, agent: Participant, target: str | None, timeout: float):
        """A TCPStore client: retry until a server listens at the target, or time out."""
        setup = self.sim.setup
        failure = RendezvousFailure(
            "DistNetworkError",
            f"The client socket has timed out after {int(timeout * 1000)}ms while trying to connect to "
            f"({setup.master_addr}, {setup.master_port}).",
        )
        if target is None:  # nobody owns that address: connect() never succeeds
            yield self.sim.kernel.timeout(timeout)
            raise failure
        up = self.servers.listening(target)
        if up.triggered:
            return up.value
        result = yield self.sim.kernel.any_of([up, self.sim.kernel.timeout(timeout)])
        if result is not up:
            raise failure
        return up.value

    def num_nodes_waiting(self, agent: Participant) -> int:
        return 0  # static rendezvous is never elastic

    def agent_gone(self, agent: Participant, *, killed: bool = False) -> None:
        """The agent's process ended: a store it hosted goes with it."""
        self.servers.close_hosted_by(agent.machine.index)


# -- c10d ----------------------------------------------------------------------------------


@dataclass
class _State:
    """torch's ``_RendezvousState``, held in the c10d store."""

    round: int = 0
    complete: bool = False
    deadline: float | None = None
    closed: bool = False
    participants: dict[tuple, int] = field(default_factory=dict)
    wait_list: set[tuple] = field(default_factory=set)
    redundancy_list: set[tuple] = field(default_factory=set)
    last_heartbeats: dict[tuple, float] = field(default_factory=dict)


class C10dRendezvous:
    """``--rdzv-backend c10d``: the dynamic rendezvous, its store hosted by one agent."""

    def __init__(self, sim: RendezvousHost) -> None:
        self.sim = sim
        self.stores = _HostedStores(sim.kernel)  # the rendezvous store an agent hosts, by host
        self.states: dict[str, _State] = {}  # host -> rendezvous state in that store
        self._changed: dict[str, Any] = {}  # host -> event fired on any state change
        self.bootstrap: dict[int, tuple[str, int | None]] = {}  # agent -> cached (MASTER_ADDR, PORT)
        self.shared_server: dict[int, bool] = {}  # agent -> hosts the shared TCPStore
        self.first_round_done: set[int] = set()
        self.dead: set[tuple] = set()  # descriptors of agents that died (they stop heart-beating)
        self._waiting_cache: dict[int, tuple[float, int]] = {}  # agent -> (synced at, wait-list size)

    # store placement ---------------------------------------------------------------

    def _ensure_store(self, agent: Participant) -> Generator[Any, Any, str]:
        """Host the rendezvous store if the endpoint names this machine, else connect to it."""
        sim, setup = self.sim, self.sim.setup
        machine = agent.machine
        host = setup.endpoint_host
        target = _owner(sim, host, machine.index)
        if target == machine.host and machine.host not in self.stores.by_host:
            self.states[machine.host] = _State()
            self.stores.start(machine.host, SimStore(sim.kernel, machine.index, host, setup.endpoint_port))
            sim.record("store_listen", machine.index, addr=host, port=setup.endpoint_port, purpose="rendezvous")
        read_timeout = float(sim.options.c10d_read_timeout)
        if target is None:
            yield sim.kernel.timeout(read_timeout)
            raise _c10d_connection_error()
        up = self.stores.listening(target)
        if not up.triggered:
            result = yield sim.kernel.any_of([up, sim.kernel.timeout(read_timeout)])
            if result is not up:
                raise _c10d_connection_error()
        return target

    # the join operation -----------------------------------------------------------------

    def _notify(self, where: str) -> None:
        event = self._changed.get(where)
        self._changed[where] = self.sim.kernel.event()
        if event is not None and not event.triggered:
            event.succeed()

    def _sanitize(self, state: _State) -> None:
        if not self.dead:
            return  # only dead agents go silent; live ones heart-beat every keep_alive_interval
        sim = self.sim
        expiry = sim.options.keep_alive_interval * sim.options.keep_alive_max_attempt
        now = sim.kernel.now
        dead = sorted(
            node for node in self.dead if node in state.last_heartbeats and state.last_heartbeats[node] + expiry < now
        )
        removed = False
        for node in dead:
            del state.last_heartbeats[node]
            if node in state.participants:
                del state.participants[node]
                removed = True
            state.wait_list.discard(node)
            state.redundancy_list.discard(node)
            sim.record("rdzv_dead_node", self._machine_of(node), after=expiry)
        if removed:
            self._remove_epilogue(state)

    def _machine_of(self, descriptor: tuple) -> int | None:
        agent = self.sim.agents_by_descriptor.get(descriptor)
        return None if agent is None else agent.machine.index

    def _remove_epilogue(self, state: _State) -> None:
        if state.complete:
            if not state.participants:
                state.complete = False
                state.round += 1
        elif len(state.participants) < self.sim.spec.min_nodes:
            state.deadline = None

    def _complete(self, state: _State, store: SimStore) -> None:
        state.complete = True
        state.deadline = None
        for rank, node in enumerate(sorted(state.participants)):
            state.participants[node] = rank
        by_rank = sorted(state.participants, key=state.participants.__getitem__)
        self.sim.record(
            "rdzv_complete",
            self._machine_of(by_rank[0]),
            round=state.round,
            store=store.incarnation,
            order=[self._machine_of(n) for n in by_rank],
            members=sorted(self._machine_of(n) for n in state.participants),
        )

    def next_rendezvous(self, agent: Participant) -> Generator[Any, Any, RoundResult]:
        sim = self.sim
        kernel, options, spec = sim.kernel, sim.options, sim.spec
        me = agent.descriptor
        where = yield from self._ensure_store(agent)
        store, state = self.stores.by_host[where], self.states[where]
        if agent.machine.index not in self.first_round_done and state.round == 0:
            yield kernel.timeout(kernel.rng.uniform(0.0, 0.3))  # torch skews first joins by 0-0.3 s
        deadline = kernel.now + float(sim.setup.timeout)
        # _RendezvousExitOp: leave the round we were part of.
        self._sanitize(state)
        if me in state.participants:
            del state.participants[me]
            state.last_heartbeats.pop(me, None)
            self._remove_epilogue(state)
            self._notify(where)
        while True:
            if not store.alive:  # the agent hosting the rendezvous store died: every store call fails
                raise _c10d_connection_error()
            self._sanitize(state)
            if state.closed:  # an agent has shut the rendezvous down (it exited)
                raise RendezvousFailure("RendezvousClosedError")
            is_participant = me in state.participants
            if state.complete and is_participant:
                break
            if kernel.now > deadline:
                if is_participant:
                    del state.participants[me]
                    self._remove_epilogue(state)
                state.wait_list.discard(me)
                state.last_heartbeats.pop(me, None)
                self._notify(where)
                raise RendezvousFailure("RendezvousTimeoutError")
            if state.complete:
                if len(state.participants) < spec.max_nodes and me not in state.wait_list:
                    state.wait_list.add(me)
                    state.last_heartbeats[me] = kernel.now
                    sim.record("rdzv_wait_list", agent.machine.index, round=state.round + 1)
                    self._notify(where)
                    continue
                if len(state.participants) >= spec.max_nodes and me not in state.wait_list:
                    state.redundancy_list.add(me)
            elif not is_participant:
                state.wait_list.discard(me)
                state.redundancy_list.discard(me)
                state.participants[me] = 0
                state.last_heartbeats[me] = kernel.now
                sim.record("rdzv_join", agent.machine.index, round=state.round, participants=len(state.participants))
                if len(state.participants) == spec.min_nodes:
                    state.deadline = kernel.now + float(sim.setup.last_call_timeout)
                if len(state.participants) == spec.max_nodes:
                    self._complete(state, store)
                self._notify(where)
                continue
            elif (
                spec.min_nodes <= len(state.participants) <= spec.max_nodes
                and state.deadline is not None
                and state.deadline <= kernel.now
            ):
                self._complete(state, store)
                self._notify(where)
                continue
            # SYNC: wait for a change, our deadline, the last call, or a silent node's expiry.
            wake = [deadline + 1e-9]
            if state.deadline is not None:
                wake.append(state.deadline)
            expiry = options.keep_alive_interval * options.keep_alive_max_attempt
            wake += [state.last_heartbeats[node] + expiry + 1e-9 for node in self.dead if node in state.last_heartbeats]
            changed = self._changed.setdefault(where, kernel.event())
            woke = yield kernel.any_of([changed, kernel.timeout(max(0.0, min(wake) - kernel.now))])
            if woke is changed:  # torch polls the shared state about once a second
                yield kernel.timeout(kernel.rng.uniform(0.0, SYNC_INTERVAL))
        self.first_round_done.add(agent.machine.index)
        rank = state.participants[me]
        world = len(state.participants)
        prefix = f"torch.rendezvous.{sim.run_id}.{state.round}/"
        addr, port = yield from self._bootstrap(agent, store, prefix, rank)
        return RoundResult(
            group_rank=rank,
            group_world_size=world,
            round=state.round,
            store=store,
            prefix=prefix,
            master_addr=addr,
            master_port=port,
            store_timeout=float(options.c10d_read_timeout),
        )

    def _bootstrap(self, agent: Participant, store: SimStore, prefix: str, rank: int):
        """MASTER_ADDR/MASTER_PORT with TCP-store sharing (torch's default), cached per agent."""
        sim = self.sim
        index = agent.machine.index
        shared = sim.setup.use_agent_store
        if shared and index in self.bootstrap and not (rank == 0 and not self.shared_server.get(index)):
            return self.bootstrap[index]  # cached from the first round: nothing published now
        if rank == 0:
            if shared:
                self.shared_server[index] = True
            store.set(prefix + "MASTER_ADDR", agent.descriptor[0])
            store.set(prefix + "MASTER_PORT", None)  # an ephemeral port, known only at run time
            info = (agent.descriptor[0], None)
        else:
            try:
                values = yield store.wait([prefix + "MASTER_ADDR", prefix + "MASTER_PORT"], sim.options.c10d_read_timeout)
            except StoreError as error:
                raise RendezvousFailure.from_store(error) from None
            info = (values[0], values[1])
        if shared:
            self.bootstrap[index] = info
        return info

    def agent_gone(self, agent: Participant, *, killed: bool = False) -> None:
        """An agent's process ended. A clean exit shuts the rendezvous down (torch closes it);
        a killed agent just stops heart-beating. A store it hosted goes with it."""
        if killed:
            self.dead.add(agent.descriptor)
        else:
            where = _owner(self.sim, self.sim.setup.endpoint_host, agent.machine.index)
            state = self.states.get(where) if where is not None else None
            if state is not None and agent.machine.index in self.first_round_done and not state.closed:
                state.closed = True
                self.sim.record("rdzv_closed", agent.machine.index)
                self._notify(where)
        self.stores.close_hosted_by(agent.machine.index)

    def num_nodes_waiting(self, agent: Participant) -> int:
        """The wait list as this agent last synced it (torch caches the state for 1 s)."""
        now = self.sim.kernel.now
        synced, cached = self._waiting_cache.get(agent.machine.index, (-SYNC_INTERVAL, 0))
        if now - synced < SYNC_INTERVAL:
            return cached
        where = _owner(self.sim, self.sim.setup.endpoint_host, agent.machine.index)
        store = self.stores.by_host.get(where) if where is not None else None
        if store is None or not store.alive:
            raise _c10d_connection_error()
        state = self.states[where]
        self._sanitize(state)
        self._waiting_cache[agent.machine.index] = (now, len(state.wait_list))
        return len(state.wait_list)
