"""The documents each stage hands to the next: typed, frozen, and their JSON forms.

``Trace`` (``simdist.trace/1``) is what a simulation produced, ``Report``
(``simdist.report/1``) what a real torchrun run observed; the plan's own types
(``simdist.plan/1``) live with the rule book in :mod:`simdist.launch`. Every surface
(the CLI, the plots, real mode's comparison) reads these objects, never raw dict keys,
and the one interpretation of trace events (agent phases, worker lives) is here.

May import: the standard library and :mod:`simdist._errors`. Nothing above it.
"""
