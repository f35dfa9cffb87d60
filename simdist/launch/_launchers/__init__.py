"""Other launchers' conventions, mapped to torchrun's: Slurm, Open MPI, accelerate, DeepSpeed, Kubeflow.

Each module reads that launcher's own command line (or, for Kubeflow, the PyTorchJob
fields) and returns a :class:`LauncherLayout`: every process, the variables the
launcher gives it, and the rank variables a torch script reads, next to what torchrun
would give the same process. Each module's docstring cites the launcher's source and
version its rules come from. Standard library only, like the rest of ``simdist.launch``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..._errors import ConfigError
from ._model import LauncherLayout, LauncherProcess

__all__ = ["LAUNCHERS", "LauncherLayout", "LauncherProcess", "launcher_layout", "render_launcher_env"]

LAUNCHERS = ("slurm", "mpirun", "accelerate", "deepspeed", "kubeflow")


def launcher_layout(name: str, argv: Sequence[str]) -> LauncherLayout:
    """The layout ``name`` gives for ``argv`` (its own options, as typed after ``--``)."""
    words = list(argv)
    if len(words) == 1 and " " in words[0]:
        words = shlex.split(words[0])  # a whole command pasted as one quoted argument
    if name == "slurm":
        from ._slurm import slurm_layout

        return slurm_layout(words)
    if name == "mpirun":
        from ._mpirun import mpirun_layout

        return mpirun_layout(words)
    if name == "accelerate":
        from ._accelerate import accelerate_layout

        return accelerate_layout(words)
    if name == "deepspeed":
        from ._deepspeed import deepspeed_layout

        return deepspeed_layout(words)
    if name == "kubeflow":
        from ._kubeflow import kubeflow_layout

        return kubeflow_layout(words)
    raise ConfigError(f"--from {name!r}: expected one of {', '.join(LAUNCHERS)}")


def render_launcher_env(layout: LauncherLayout) -> str:
    """Per process: the launcher's variables, then ``export`` lines for torch's names, as mapped."""
    blocks = []
    for p in layout.processes:
        lines = [f"# {p.host} (node {p.node}), process {p.order} there: RANK={p.rank}"
                 + ("" if p.same_as_torchrun else f" (torchrun would give RANK={p.torchrun_rank} "
                                                  f"LOCAL_RANK={p.torchrun_local_rank})")]  # fmt: skip
        lines += [f"#   {layout.launcher} sets {k}={'…' if v is None else v}" for k, v in p.launcher_env.items()]
        for key, value in p.torch_env.items():
            if value is None:
                lines.append(f"# export {key}=…  # not set by {layout.launcher}")
            else:
                lines.append(f"export {key}={shlex.quote(value)}")
        if p.args:
            lines.append(f"# and the script gets: {shlex.join(p.args)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
