"""Add an invariant of your own to simdist's LaunchMachine and let Hypothesis drive it.

LaunchMachine starts machines, crashes them, kills workers and advances the virtual
clock in random orders; after every step it checks its invariants. A subclass adds more.
"""

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant, run_state_machine_as_test

from simdist.testing.stateful import LaunchMachine


class MyLaunchMachine(LaunchMachine):
    @invariant()
    def world_size_fits_the_machines(self):
        """No rendezvous round hands out more ranks than the machines run processes."""
        for event in self.sim.recorder.events:
            if event.kind == "ranks_assigned":
                assert event.detail["world_size"] <= sum(self.spec.nprocs)

    @invariant()
    def restart_count_matches_the_env(self):
        """Every worker's TORCHELASTIC_RESTART_COUNT is its agent's restart count when it was spawned."""
        for agent in self.sim.agents:
            for worker in agent.workers:
                assert int(worker.env["TORCHELASTIC_RESTART_COUNT"]) <= agent.restart_count


run_state_machine_as_test(
    MyLaunchMachine,
    settings=settings(max_examples=50, stateful_step_count=20, derandomize=True, database=None, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow]),
)
print("MyLaunchMachine: every invariant held (max_examples=50, up to 20 steps each)")
