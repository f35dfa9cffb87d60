"""Scenarios that go wrong on purpose, for the real-mode tests."""

import os
import time


def pid_dependent(dist):
    """A result the simulator cannot predict: differs from the prediction on purpose."""
    return os.getpid()


def crash_on_rank_1(dist):
    """Rank 1 raises; the others wait in a barrier for it."""
    if dist.get_rank() == 1:
        raise RuntimeError("rank 1 fails on purpose")
    dist.barrier()
    return dist.get_rank()


def hang_on_rank_1(dist):
    """Rank 1 never returns (until it is killed)."""
    if dist.get_rank() == 1:
        while True:
            time.sleep(0.5)
    return dist.get_rank()
