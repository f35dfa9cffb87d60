"""The launch on a virtual clock: kernel, store, rendezvous, agents, workers, the run loop.

A single-threaded, seeded discrete-event kernel (SimPy-shaped) drives simulated
torchrun agents through static or c10d rendezvous, restarts and exit barriers. What a
worker *runs* is not known here: a program is plugged in from above
(:mod:`simdist.program`) through the ``WorkerProgram`` protocol, and collectives reach
the world only through its hooks. Standard library only.

May import: :mod:`simdist.launch`, :mod:`simdist.documents`, :mod:`simdist._errors`.
"""

from ._kernel import Kernel
from ._simulation import Failure, SimOptions, Simulation, WorkerProgram, parse_failure

__all__ = ["Failure", "Kernel", "SimOptions", "Simulation", "WorkerProgram", "parse_failure"]
