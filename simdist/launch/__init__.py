"""What was typed, and what torchrun will make of it: no simulation, no torch.

``LaunchSpec`` (a torchrun command line, validated once) → ``Plan`` (ranks, GPUs and the
exact environment of every worker, torch 2.13's rule book) → checks (warnings in torch's
words) and per-node commands. ``simdist explain`` needs nothing else, which is why this
layer imports only the standard library.

May import: the standard library, :mod:`simdist._errors`, :mod:`simdist.documents`.
"""

from ._addresses import is_loopback
from ._commands import torchrun_command
from ._make import make_plan
from ._plan import NodePlan, Plan, WorkerPlan, build_plan
from ._spec import LaunchSpec, RendezvousSetup, resolve_rendezvous

__all__ = [
    "LaunchSpec",
    "NodePlan",
    "Plan",
    "RendezvousSetup",
    "WorkerPlan",
    "build_plan",
    "is_loopback",
    "make_plan",
    "resolve_rendezvous",
    "torchrun_command",
]
