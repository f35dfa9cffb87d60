"""Every built-in scenario in one run, so one real torchrun job checks them all."""

from simdist.program import scenarios

CORRECT = [name for name in scenarios.BUILTIN if not name.startswith("broken_")]


def everything(dist):
    return {name: scenarios.BUILTIN[name](dist) for name in CORRECT}
