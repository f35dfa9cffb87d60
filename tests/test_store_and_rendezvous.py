"""The simulated TCPStore and both rendezvous backends on their own, without agents or a Simulation."""

import dataclasses

import pytest

from simdist import LaunchSpec, SimOptions, resolve_rendezvous
from simdist._errors import RendezvousFailure, StoreError
from simdist.sim._kernel import Kernel
from simdist.sim._machine import Machine
from simdist.sim._rendezvous import C10dRendezvous, StaticRendezvous
from simdist.sim._store import SimStore

# -- the store ------------------------------------------------------------------------------


def test_a_wait_returns_every_value_once_the_last_key_is_set():
    kernel = Kernel()
    store = SimStore(kernel, host=0, addr="127.0.0.1", port=29500)
    got = store.wait(["a", "b"], timeout=10)
    kernel.timeout(1).callbacks.append(lambda _: store.set("b", 2))
    kernel.timeout(2).callbacks.append(lambda _: store.set("a", 1))
    kernel.run(until=got)
    assert got.value == [1, 2] and kernel.now == 2


def test_a_wait_times_out_with_torchs_text_naming_every_key():
    kernel = Kernel()
    store = SimStore(kernel, 0, "127.0.0.1", 29500)
    store.set("a", 1)
    got = store.wait(["a", "b"], timeout=3)
    got.defuse()
    kernel.run()
    assert not got.ok and kernel.now == 3
    assert isinstance(got.value, StoreError)
    assert (got.value.kind, got.value.message) == ("DistStoreError", "wait timeout after 3000ms, keys: /a, /b")


def test_add_counts_and_a_dead_store_resets_its_waiters_and_refuses_new_ones():
    kernel = Kernel()
    store = SimStore(kernel, 0, "127.0.0.1", 29500)
    assert [store.add("n", 1) for _ in range(3)] == [1, 2, 3]
    pending = store.wait(["never"], timeout=100)
    pending.defuse()
    store.shutdown()
    late = store.wait(["n"], timeout=100)
    late.defuse()
    kernel.run()
    for event in (pending, late):
        assert (event.value.kind, event.value.message) == ("DistNetworkError", "Connection reset by peer")
    assert kernel.now == 0  # at once, not at the timeout


# -- rendezvous -----------------------------------------------------------------------------


class Host:
    """The least a rendezvous needs from a simulation (the RendezvousHost protocol)."""

    def __init__(self, spec: LaunchSpec, machines: list[Machine]) -> None:
        self.kernel = Kernel(0)
        self.spec = spec
        self.setup = dataclasses.replace(resolve_rendezvous(spec), run_id="job")
        self.options = SimOptions()
        self.machines = machines
        self.run_id = "job"
        self.participants = [Participant(m) for m in machines]
        self.agents_by_descriptor = {p.descriptor: p for p in self.participants}
        self.events: list[tuple[float, str, int | None]] = []

    def record(self, kind, node=None, rank=None, **detail):
        self.events.append((self.kernel.now, kind, node))


@dataclasses.dataclass
class Participant:
    machine: Machine

    @property
    def descriptor(self):
        return (self.machine.addr, self.machine.pid, 0)


def _join(host: Host, rendezvous, index: int, at: float, outcome: dict) -> None:
    def agent():
        yield host.kernel.timeout(at)
        try:
            outcome[index] = yield from rendezvous.next_rendezvous(host.participants[index])
        except RendezvousFailure as failure:
            outcome[index] = failure

    host.kernel.process(agent())


def test_static_group_ranks_are_node_ranks_once_every_node_has_joined():
    spec = LaunchSpec(nnodes=3, nproc_per_node=1, master_port=29500, rdzv_conf={"timeout": 60})
    machines = [Machine(i, node_rank=r, host="127.0.0.1", pid=100 + i, start=0) for i, r in enumerate([2, 0, 1])]
    host = Host(spec, machines)
    rendezvous, outcome = StaticRendezvous(host), {}
    for index, at in enumerate([0.0, 5.0, 9.0]):
        _join(host, rendezvous, index, at, outcome)
    host.kernel.run()
    assert {i: r.group_rank for i, r in outcome.items()} == {0: 2, 1: 0, 2: 1}
    assert all(r.group_world_size == 3 and r.prefix == "job/" for r in outcome.values())
    assert [e for e in host.events if e[1] == "store_listen"] == [(5.0, "store_listen", 1)]  # node_rank 0 hosts


def test_static_master_gives_up_with_torchs_message_when_a_node_never_joins():
    spec = LaunchSpec(nnodes=2, nproc_per_node=1, master_port=29500, rdzv_conf={"timeout": 30})
    host = Host(spec, [Machine(0, 0, "127.0.0.1", 100, 0), Machine(1, 1, "127.0.0.1", 101, 0)])
    rendezvous, outcome = StaticRendezvous(host), {}
    _join(host, rendezvous, 0, 0.0, outcome)
    host.kernel.run()
    failure = outcome[0]
    assert isinstance(failure, RendezvousFailure)
    assert (failure.kind, failure.message) == (
        "DistStoreError", "Timed out after 31 seconds waiting for clients. 1/2 clients joined.")  # fmt: skip


def test_c10d_ranks_follow_the_sorted_descriptors_not_the_arrival_order():
    spec = LaunchSpec(nnodes="2:3", nproc_per_node=1, rdzv_backend="c10d", rdzv_endpoint="10.0.0.2:29400",
                      rdzv_conf={"last_call_timeout": 5})  # fmt: skip
    machines = [Machine(0, 0, "10.0.0.3", 50, 0), Machine(1, 1, "10.0.0.2", 70, 0), Machine(2, 2, "10.0.0.2", 60, 0)]
    host = Host(spec, machines)
    rendezvous, outcome = C10dRendezvous(host), {}
    for index, at in enumerate([0.0, 1.0, 2.0]):
        _join(host, rendezvous, index, at, outcome)
    host.kernel.run(until=200)
    ranks = {i: r.group_rank for i, r in outcome.items()}
    # (addr, pid) sorted: ("10.0.0.2", 60) < ("10.0.0.2", 70) < ("10.0.0.3", 50)
    assert ranks == {2: 0, 1: 1, 0: 2}
    assert {r.group_world_size for r in outcome.values()} == {3}


def test_c10d_closes_at_min_nodes_after_the_last_call():
    spec = LaunchSpec(nnodes="2:4", nproc_per_node=1, rdzv_backend="c10d", rdzv_endpoint="10.0.0.1:29400",
                      rdzv_conf={"last_call_timeout": 7})  # fmt: skip
    machines = [Machine(i, i, f"10.0.0.{i + 1}", 10, 0) for i in range(4)]
    host = Host(spec, machines)
    rendezvous, outcome = C10dRendezvous(host), {}
    _join(host, rendezvous, 0, 0.0, outcome)
    _join(host, rendezvous, 1, 3.0, outcome)
    host.kernel.run(until=100)
    assert {r.group_world_size for r in outcome.values()} == {2}
    joined = [t for t, kind, _ in host.events if kind == "rdzv_join"]
    completed = [t for t, kind, _ in host.events if kind == "rdzv_complete"]
    assert len(joined) == 2 and completed == [pytest.approx(joined[1] + 7)]  # min_nodes reached, then the last call
