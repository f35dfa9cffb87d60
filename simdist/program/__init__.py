"""What runs on a rank: a ``scenario(dist)`` function, a built-in one, or a user's file.

A program plugs into the simulator's workers: each rank gets its own stack and sees the
simulated world through torch's own ``torch.distributed`` API. ``simulate()`` is the
facade that ties a launch, a program and the collectives together into a ``Trace``.

May import: :mod:`simdist.collectives`, :mod:`simdist.sim`, :mod:`simdist.launch`,
:mod:`simdist.documents`, :mod:`simdist._errors`.
"""
