"""Real mode: run a launch through torch's own launcher and compare it with the prediction.

    from simdist import LaunchSpec
    from simdist.real import RealOptions, run_real

    report = run_real(LaunchSpec(nnodes=1, nproc_per_node=2), RealOptions(scenario="allreduce"))
    report.matches, report.worker(1).env["RANK"], report.to_json()

:func:`run_real` starts ``torchrun`` with a small worker program, collects what every
worker saw and returns a typed :class:`~simdist.documents.Report` (``simdist.report/1``).

May import: :mod:`simdist.documents`, :mod:`simdist.launch`, and :mod:`simdist.program`
(lazily, to check a scenario or simulate the prediction) — never ``cli``, ``plot`` or
``testing``. The launching process never imports torch (the ``launcher-without-torch``
import contract): only the worker torchrun starts, ``simdist.real._worker``, does.
The plumbing (``free_port``, ``run_agents``, …) stays in the private modules.
"""

from ..documents._report import Report
from ._run import RealOptions, run_real

__all__ = ["RealOptions", "Report", "run_real"]

# Reprs and help() show the public path, not the private module.
RealOptions.__module__ = run_real.__module__ = __name__
