"""The simulator, driven step by step, against the plain-Python model."""

from hypothesis import HealthCheck, settings

from simdist.testing.stateful import LaunchMachine

TestLaunchMachine = LaunchMachine.TestCase
TestLaunchMachine.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
