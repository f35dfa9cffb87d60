"""The event kernel on its own: ordering, clock, run(until=…), and SimPy's contract on failures."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simdist import EmptySchedule, SimulationError
from simdist.sim._kernel import Interrupt, Kernel


def test_step_on_an_empty_schedule_raises_a_named_error():
    kernel = Kernel()
    with pytest.raises(EmptySchedule):
        kernel.step()
    assert issubclass(EmptySchedule, SimulationError)


def test_run_until_a_time_processes_events_up_to_it_and_leaves_the_clock_there():
    kernel = Kernel()
    fired = []
    for delay in (1.0, 2.0, 3.0):
        kernel.timeout(delay).callbacks.append(lambda e, d=delay: fired.append((d, kernel.now)))
    kernel.run(until=2.0)
    assert fired == [(1.0, 1.0), (2.0, 2.0)]  # "at or before"
    assert kernel.now == 2.0
    kernel.run(until=2.5)
    assert kernel.now == 2.5 and len(fired) == 2
    kernel.run()  # until nothing is scheduled
    assert fired[-1] == (3.0, 3.0) and kernel.now == 3.0


def test_run_until_the_past_is_refused():
    kernel = Kernel()
    kernel.run(until=5)
    with pytest.raises(ValueError):
        kernel.run(until=4)


def test_run_until_an_event_returns_once_it_is_processed():
    kernel = Kernel()
    target = kernel.timeout(4.0, value="done")
    kernel.timeout(10.0)
    kernel.run(until=target)
    assert kernel.now == 4.0 and target.processed and target.value == "done"


def test_run_until_an_event_that_never_comes_says_the_schedule_ran_dry():
    kernel = Kernel()
    never = kernel.event()
    kernel.timeout(1.0)
    with pytest.raises(EmptySchedule):
        kernel.run(until=never)
    assert kernel.now == 1.0


def test_max_steps_bounds_a_run_that_would_not_end():
    kernel = Kernel()

    def forever():
        while True:
            yield kernel.timeout(1.0)

    kernel.process(forever())
    with pytest.raises(SimulationError, match="more than 50 events"):
        kernel.run(until=1e9, max_steps=50)


def test_a_failed_event_nobody_handles_is_raised_not_dropped():
    kernel = Kernel()
    event = kernel.event()
    event.fail(KeyError("lost"))
    with pytest.raises(KeyError, match="lost"):
        kernel.run()


def test_a_failure_received_by_a_process_is_handled_there():
    kernel = Kernel()
    seen = []

    def waiter(event):
        try:
            yield event
        except KeyError as exc:
            seen.append(exc.args[0])

    event = kernel.event()
    kernel.process(waiter(event))
    kernel.timeout(1.0).callbacks.append(lambda _: event.fail(KeyError("boom")))
    kernel.run()
    assert seen == ["boom"]


def test_a_defused_failure_is_dropped_on_purpose():
    kernel = Kernel()
    event = kernel.event()
    event.fail(KeyError("known"))
    event.defuse()
    kernel.run()  # no error


def test_a_process_that_dies_unobserved_raises():
    kernel = Kernel()

    def broken():
        yield kernel.timeout(1.0)
        raise RuntimeError("bug in a process")

    kernel.process(broken())
    with pytest.raises(RuntimeError, match="bug in a process"):
        kernel.run()


def test_an_interrupted_process_abandons_what_it_waited_for():
    kernel = Kernel()
    log = []
    slow = kernel.event()

    def sleeper():
        try:
            yield slow
        except Interrupt as interrupt:
            log.append(("interrupted", interrupt.cause, kernel.now))

    process = kernel.process(sleeper())
    kernel.timeout(2.0).callbacks.append(lambda _: process.interrupt("SIGTERM"))
    kernel.timeout(3.0).callbacks.append(lambda _: slow.fail(OSError("too late")))  # nobody left to tell
    kernel.run()
    assert log == [("interrupted", "SIGTERM", 2.0)]


def test_any_of_passes_on_the_first_event_and_its_failure():
    kernel = Kernel()
    first, second = kernel.timeout(1.0, "a"), kernel.timeout(2.0, "b")
    either = kernel.any_of([first, second])
    kernel.run(until=either)
    assert either.value is first and kernel.now == 1.0


@given(st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=1, max_size=12), st.integers(0, 2**32 - 1))
def test_order_is_time_then_priority_then_the_seeded_tie_and_is_reproducible(delays, seed):
    def order(seed):
        kernel = Kernel(seed)
        out = []
        for i, delay in enumerate(delays):
            kernel.timeout(delay, shuffle=True).callbacks.append(lambda e, i=i: out.append((kernel.now, i)))
        kernel.run()
        return out

    first = order(seed)
    assert first == order(seed)  # same seed, same order
    assert [t for t, _ in first] == sorted(delays)  # never out of time order
    fifo = Kernel(seed)
    out = []
    for i, delay in enumerate(delays):
        fifo.timeout(delay).callbacks.append(lambda e, i=i: out.append(i))
    fifo.run()
    assert out == sorted(range(len(delays)), key=lambda i: delays[i])  # unshuffled ties: FIFO
