"""Every error simdist raises on purpose.

::

    SimdistError
     ├── ConfigError(ValueError)          a launch that torchrun would refuse, or bad input
     ├── SimulationError                  the simulated job did not end well (see Trace.outcome)
     └── RealModeError
          ├── RealModeUnavailable(ImportError)   torch (or numpy) is not installed
          └── RealRunFailed                      torchrun or a worker failed for real

Each message is one line a user can act on. The CLI turns ConfigError into exit
status 2 and RealModeUnavailable into 3; the library itself never exits.

Inside a simulation, what a simulated torch raises is a :class:`SimulatedTorchError`
(not a SimdistError: it is data about the simulated job, recorded in the trace).
"""

from __future__ import annotations


class SimdistError(Exception):
    """Base class of all simdist errors."""


class ConfigError(SimdistError, ValueError):
    """The launch description is invalid: torchrun would refuse it, or it is malformed."""


class SimulationError(SimdistError):
    """The simulation could not run the scenario (not a failure *of* the scenario)."""


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
