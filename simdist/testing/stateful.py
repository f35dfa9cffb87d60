"""A Hypothesis state machine for torchrun launches: nodes join, crash, time passes.

``LaunchMachine`` drives the simulator one step at a time and checks it against the
plain-Python oracles in :mod:`simdist.testing.models`. Use it as is, or subclass it
to add rules for your own launch logic::

    from simdist.testing.stateful import LaunchMachine
    TestLaunch = LaunchMachine.TestCase
"""

from __future__ import annotations

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from simdist import LaunchSpec, SimOptions
from simdist.sim import Simulation
from simdist.testing import models

__all__ = ["LaunchMachine"]

NEVER = float("inf")


@st.composite
def _small_launches(draw) -> LaunchSpec:
    backend = draw(st.sampled_from(["static", "c10d"]))
    nodes = draw(st.integers(1, 4))
    nprocs = draw(st.lists(st.integers(1, 3), min_size=nodes, max_size=nodes))
    restarts = draw(st.integers(0, 2))
    if backend == "static":
        timeout = draw(st.integers(5, 30))
        return LaunchSpec(nnodes=nodes, nproc_per_node=nprocs, master_port=29500, max_restarts=restarts,
                          rdzv_conf={"timeout": timeout})  # fmt: skip
    low = draw(st.integers(1, nodes))
    return LaunchSpec(
        nnodes=f"{low}:{nodes}", nproc_per_node=nprocs, rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:29400",
        max_restarts=restarts, rdzv_conf={"join_timeout": draw(st.integers(10, 60)), "last_call_timeout": 5},
    )  # fmt: skip


class LaunchMachine(RuleBasedStateMachine):
    """Machines start, crash and lose workers while virtual time advances."""

    @initialize(spec=_small_launches(), seed=st.integers(0, 2**16))
    def set_up(self, spec: LaunchSpec, seed: int) -> None:
        note(f"spec={spec!r} seed={seed}")
        self.spec = spec
        options = SimOptions(seed=seed, start_times=(NEVER,) * spec.max_nodes, agent_startup=0.5,
                             worker_startup=0.5, work=3.0)  # fmt: skip
        self.sim = Simulation(spec, options)
        self.sim.start()
        self.started: dict[int, float] = {}
        self.crashed: set[int] = set()
        self.killed_workers = 0

    # -- rules ------------------------------------------------------------------------

    @precondition(lambda self: len(self.started) < self.spec.max_nodes)
    @rule(data=st.data())
    def start_nodes(self, data) -> None:
        waiting = sorted(set(range(self.spec.max_nodes)) - set(self.started))
        nodes = data.draw(st.lists(st.sampled_from(waiting), min_size=1, unique=True), label="nodes")
        for node in nodes:
            self.sim.start_machine(node)
            self.started[node] = self.sim.now
        note(f"t={self.sim.now:g}: machines {nodes} start")

    @precondition(lambda self: bool(self.started))
    @rule(data=st.data())
    def crash_node(self, data) -> None:
        node = data.draw(st.sampled_from(sorted(self.started)), label="node")
        if self.sim.crash_machine(node):
            note(f"t={self.sim.now:g}: machine {node} crashes")
            self.crashed.add(node)

    @precondition(lambda self: bool(self.sim.running_workers()))
    @rule(data=st.data())
    def kill_worker(self, data) -> None:
        worker = data.draw(st.sampled_from(self.sim.running_workers()), label="worker")
        note(f"t={self.sim.now:g}: rank {worker.rank} on machine {worker.node} is killed")
        self.killed_workers += 1
        self.sim.kill_worker(worker, -9)

    @rule(dt=st.sampled_from([0.1, 0.5, 1.0, 2.5, 5.0, 20.0, 120.0]))
    def advance(self, dt: float) -> None:
        self.sim.run(until=self.sim.now + dt)

    # -- invariants -----------------------------------------------------------------------

    def _assignments(self):
        return [(e.node, e.detail) for e in self.sim.events if e.kind == "ranks_assigned"]

    @invariant()
    def ranks_of_a_full_round_are_range_world_size(self) -> None:
        rounds: dict[tuple, dict[int, dict]] = {}
        for _, detail in self._assignments():
            key = (detail["store"], detail["round"], detail["world_size"], detail["group_world_size"])
            rounds.setdefault(key, {})[detail["group_rank"]] = detail
        for (_, _, world, groups), by_rank in rounds.items():
            if sorted(by_rank) == list(range(groups)):
                ranks = sorted(r for d in by_rank.values() for r in range(d["ranks"][0], d["ranks"][1] + 1))
                assert ranks == list(range(world)), by_rank

    @invariant()
    def group_ranks_follow_torchs_rule(self) -> None:
        """static: GROUP_RANK = --node-rank; c10d: the index in the sorted (addr, pid) of the round."""
        members: dict[tuple[int, int], list[int]] = {}
        for event in self.sim.events:
            if event.kind == "rdzv_complete":
                members[event.detail["store"], event.detail["round"]] = event.detail["members"]
        for node, detail in self._assignments():
            if self.spec.rdzv_backend == "static":
                assert detail["group_rank"] == self.sim.machines[node].node_rank
                continue
            round_members = members[detail["store"], detail["round"]]
            descriptors = [(self.sim.machines[m].addr, self.sim.machines[m].pid) for m in round_members]
            expected = [round_members[i] for i in models.c10d_group_order(descriptors)]
            assert expected.index(node) == detail["group_rank"], (expected, node, detail)

    @invariant()
    def restarts_stay_within_max_restarts(self) -> None:
        for agent in self.sim.agents:
            assert 0 <= agent.restart_count <= self.spec.max_restarts

    @invariant()
    def nobody_waits_in_rendezvous_forever(self) -> None:
        setup = self.sim.setup
        bound = models.rendezvous_bound(setup.backend, float(setup.timeout), self.sim.options.c10d_read_timeout)
        for agent in self.sim.agents:
            if agent.alive and agent.phase == "rendezvous":
                assert self.sim.now - agent.phase_since <= bound + 1e-6, (agent.machine, agent.phase_since)

    @invariant()
    def an_undisturbed_static_launch_succeeds(self) -> None:
        spec = self.spec
        if spec.rdzv_backend != "static" or self.crashed or self.killed_workers:
            return
        if len(self.started) < spec.max_nodes:
            return
        starts = [self.started[i] for i in range(spec.max_nodes)]
        timeout = float(self.sim.setup.timeout)
        if not models.static_launch_succeeds(starts, timeout) or any(
            abs(abs(s - starts[0]) - timeout) < 1.0 for s in starts
        ):
            return
        if self.sim.now > max(starts) + 10.0:  # start-up 0.5 + 0.5, work 3, barrier
            assert all(a.exit_code == 0 for a in self.sim.agents), [(a.machine.index, a.exit_code) for a in self.sim.agents]


LaunchMachine.TestCase.settings = None  # let the user's profile (or the test's) decide
