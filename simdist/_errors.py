"""Every error simdist raises on purpose, and every error a simulated torch raises.

::

    SimdistError                               simdist itself: what the caller did or could not get
     ├── ConfigError(ValueError)               a launch that torchrun would refuse, or bad input
     ├── SimulationError                       the simulator could not run what it was given
     │    └── EmptySchedule                    the kernel was asked to step with nothing scheduled
     └── RealModeError
          ├── RealModeUnavailable(ImportError) torch (or numpy) is not installed
          └── RealRunFailed                    torchrun or a worker failed for real

    SimulatedTorchError                        data about the simulated job, recorded in its trace
     ├── StoreError                            a TCPStore operation failed (DistStoreError, DistNetworkError)
     ├── RendezvousFailure                     an agent could not get through the rendezvous
     └── WorkerError                           a worker raised (its program, or torch under it)

    ProcessAborted(BaseException)              a simulated process aborted (SIGABRT); ``except Exception``
                                               in user code must not catch it, as it cannot catch a real abort

Each SimdistError message is one line a user can act on. The CLI turns ConfigError into
exit status 2 and RealModeUnavailable into 3; the library itself never exits.

A :class:`SimulatedTorchError` is not a SimdistError: it is what torch would raise inside
the simulated job. ``kind`` is torch's exception type name, ``message`` its text.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EmptySchedule",
    "ProcessAborted",
    "RealModeError",
    "RealModeUnavailable",
    "RealRunFailed",
    "RendezvousFailure",
    "SimdistError",
    "SimulatedTorchError",
    "SimulationError",
    "StoreError",
    "WorkerError",
]


class SimdistError(Exception):
    """Base class of all simdist errors."""


class ConfigError(SimdistError, ValueError):
    """The launch description is invalid: torchrun would refuse it, or it is malformed."""


class SimulationError(SimdistError):
    """The simulation could not run the scenario (not a failure *of* the scenario)."""


class EmptySchedule(SimulationError):
    """:meth:`Kernel.step` was called with no event scheduled: nothing can happen any more."""


class RealModeError(SimdistError):
    """Something went wrong while running the scenario through real torchrun."""


class RealModeUnavailable(RealModeError, ImportError):
    """Real mode needs torch (and for object collectives numpy) in this interpreter."""


class RealRunFailed(RealModeError):
    """torchrun or one of its workers failed; the message names the root cause."""


class SimulatedTorchError(Exception):
    """An error simulated torch code raises: ``kind`` is torch's exception type, ``message`` its text."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.message = message


class StoreError(SimulatedTorchError):
    """A store operation failed (DistStoreError, DistNetworkError)."""


class RendezvousFailure(SimulatedTorchError):
    """An agent could not get through the rendezvous (torch's message may be empty, as for timeouts)."""

    @classmethod
    def from_store(cls, error: StoreError) -> RendezvousFailure:
        return cls(error.kind, error.message)


class WorkerError(SimulatedTorchError):
    """A worker raised (its program, or torch under it).

    ``exit_code`` is the worker's exit status (1, or -6 for SIGABRT); ``alternatives``
    lists other ``"Kind: message"`` texts real torch may print there instead, where the
    outcome depends on which of several timers fires first.
    """

    def __init__(self, kind: str, message: str = "", *, exit_code: int = 1,
                 alternatives: tuple[str, ...] = ()) -> None:  # fmt: skip
        super().__init__(kind, message)
        self.exit_code = exit_code
        self.alternatives = alternatives


class ProcessAborted(BaseException):
    """The simulated process aborted (SIGABRT): not catchable by ``except Exception``."""
