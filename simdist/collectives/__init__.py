"""Simulated collectives over torch tensors: schedules, costs, matching, results.

``_algorithms`` (ring, tree, recursive doubling; the α-β-γ cost model) is pure Python;
the engine, the reductions and the ``ProcessGroup`` that torch's own
``torch.distributed`` layer calls into import torch, which is why nothing below a
scenario run loads this package.

May import: :mod:`simdist.sim` (the kernel and the world), :mod:`simdist.launch`,
:mod:`simdist.documents`, :mod:`simdist._errors`, and torch.
"""
