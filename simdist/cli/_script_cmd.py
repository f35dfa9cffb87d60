"""``simdist script``: write the launch script that runs what ``explain`` shows.

Bash for plain machines (one file for all of them), or sbatch for Slurm. No torch,
no rich: this command must answer as fast as ``explain``.
"""

import functools
import inspect
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._errors import ConfigError
from ..launch._script import NCCL_DEBUG_LEVELS
from ..launch._spec import LaunchSpec
from . import app
from ._launch_options import launch_options

PANEL = "What the script adds"
SLURM_PANEL = "Slurm"


def _is_torchrun(words: list[str]) -> bool:
    rest = list(words)
    while rest and "=" in rest[0] and not rest[0].startswith("-") and rest[0].split("=", 1)[0].isidentifier():
        rest.pop(0)  # KEY=VALUE prefixes of a pasted command
    if rest[:1] == ["env"]:
        return _is_torchrun(rest[1:])
    if not rest:
        return False
    head = os.path.basename(rest[0])
    return head == "torchrun" or (head.startswith("python") and rest[1:3] in (["-m", "torch.distributed.run"],))


def _program_words(func):
    """Words after the options are the training script and its arguments (or a pasted torchrun command)."""

    @functools.wraps(func)
    def command(**kwargs):
        words = list(kwargs.get("command") or ())
        if words and not _is_torchrun(words):
            if kwargs.get("script") is not None:
                raise ConfigError("give the training script once: after the options, or with --script, not both")
            kwargs["script"], kwargs["command"] = shlex.join(words), None
        elif not words and kwargs.get("script") is None:
            raise ConfigError("simdist script needs the training script: … --hosts IP0,IP1 train.py [ARGS…]")
        return func(**kwargs)

    command.__signature__ = inspect.signature(func)
    return command


def _env_for(items: list[str] | None) -> tuple[tuple[int, str, str], ...]:
    pairs = []
    for item in items or ():
        node, sep, assignment = item.partition(":")
        key, eq, value = assignment.partition("=")
        if not sep or not eq or not node.strip().isdigit():
            raise ConfigError(f"--env-for expects NODE:KEY=VALUE (e.g. 1:NCCL_IB_HCA=mlx5_0), got {item!r}")
        pairs.append((int(node), key, value))
    return tuple(pairs)


def _words(option: str, text: str) -> tuple[str, ...]:
    try:
        words = tuple(shlex.split(text))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: {exc}") from None
    if not words:
        raise ConfigError(f"{option} is empty")
    return words


@app.command(context_settings={"allow_interspersed_args": False})
@_program_words
@launch_options
def script(
    spec: LaunchSpec,
    ifname: Annotated[
        Optional[str],
        typer.Option("--ifname", help="Network interface per host (IF0,IF1,…) or one for all. \\[default: the "
                     "interface that carries the host's address]", rich_help_panel=PANEL, metavar="IF0,IF1,…"),
    ] = None,  # fmt: skip
    env_for: Annotated[
        Optional[list[str]],
        typer.Option("--env-for", help="A variable for one machine only, NODE:KEY=VALUE; repeatable.",
                     rich_help_panel=PANEL, metavar="N:KEY=VALUE"),
    ] = None,  # fmt: skip
    torchrun: Annotated[
        Optional[list[str]],
        typer.Option("--torchrun", help="The torchrun to run (a path, or words such as 'python3 -m "
                     "torch.distributed.run'); once for all hosts or once per host. \\[default: torchrun]",
                     rich_help_panel=PANEL, metavar="PATH"),
    ] = None,  # fmt: skip
    ib_disable: Annotated[
        Optional[bool],
        typer.Option("--ib-disable/--ib-enable", help="Export NCCL_IB_DISABLE=1 (or 0).", rich_help_panel=PANEL),
    ] = None,
    ib_hca: Annotated[
        Optional[str], typer.Option("--ib-hca", help="Export NCCL_IB_HCA (e.g. mlx5_1).", rich_help_panel=PANEL)
    ] = None,
    nccl_debug: Annotated[
        Optional[str],
        typer.Option("--nccl-debug", help="Export NCCL_DEBUG: " + ", ".join(NCCL_DEBUG_LEVELS) + ".",
                     rich_help_panel=PANEL, metavar="LEVEL"),
    ] = None,  # fmt: skip
    slurm: Annotated[
        bool, typer.Option("--slurm", help="An sbatch script: one torchrun per node via srun.", rich_help_panel=SLURM_PANEL)
    ] = False,
    slurm_native: Annotated[
        bool,
        typer.Option("--slurm-native", help="An sbatch script with one Slurm task per worker and no torchrun.",
                     rich_help_panel=SLURM_PANEL),
    ] = False,  # fmt: skip
    python: Annotated[
        str, typer.Option("--python", help="--slurm-native: the interpreter.", rich_help_panel=SLURM_PANEL)
    ] = "python3",
    cpus_per_task: Annotated[
        Optional[int],
        typer.Option("--cpus-per-task", help="Slurm: CPUs per task, also given to srun (it does not inherit it).",
                     rich_help_panel=SLURM_PANEL),
    ] = None,  # fmt: skip
    job_name: Annotated[
        Optional[str], typer.Option("--job-name", help="Slurm: #SBATCH --job-name.", rich_help_panel=SLURM_PANEL)
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the script here (mode 0755) instead of printing it.",
                                     metavar="FILE")
    ] = None,  # fmt: skip
    command: Annotated[
        Optional[list[str]],
        typer.Argument(help="The training script and its arguments (or a whole torchrun command).",
                       metavar="ENTRY.py [ARGS…]", show_default=False),
    ] = None,  # fmt: skip
) -> int:
    """Write one launch script for all machines: each finds its node rank and interface, then runs torchrun.

    [bold]simdist script --nnodes 2 --nproc 2 --hosts 192.168.5.228,192.168.5.229 --ifname ens1f1np1,ens2f1np1 train.py[/bold]
    """
    from ..launch import _script

    if slurm and slurm_native:
        raise ConfigError("--slurm and --slurm-native are two conventions: pick one")
    if command:  # a pasted torchrun command names one machine's --node-rank; the script decides it per machine
        import dataclasses

        spec = dataclasses.replace(spec, node_rank=None)
    from ._shared_options import refuse_unused

    refuse_unused("only used with --slurm-native", {"--python": python != "python3" and not slurm_native})
    refuse_unused("--slurm-native runs no torchrun", {"--torchrun": bool(torchrun) and slurm_native})
    if not (slurm or slurm_native):
        refuse_unused("only used with --slurm or --slurm-native",
                      {"--cpus-per-task": cpus_per_task is not None, "--job-name": job_name is not None})  # fmt: skip
    options = _script.ScriptOptions(
        ifnames=None if ifname is None else tuple(i.strip() for i in ifname.split(",")),
        env_for=_env_for(env_for),
        torchrun=tuple(_words("--torchrun", t) for t in torchrun) if torchrun else (("torchrun",),),
        python=_words("--python", python),
        ib_disable=ib_disable,
        ib_hca=ib_hca,
        nccl_debug=None if nccl_debug is None else nccl_debug.upper(),
        cpus_per_task=cpus_per_task,
        job_name=job_name,
        invocation=shlex.join(["simdist", *sys.argv[1:]]) if _run_from_console() else "",
    )
    if slurm:
        text = _script.slurm_script(spec, options)
        planned, _ = _script.slurm_spec(spec)
    elif slurm_native:
        text = _script.slurm_native_script(spec, options)
        planned = _script.slurm_native_spec(spec)
    else:
        planned = _script.prepare_hosts_spec(spec)
        text = _script.hosts_script(planned, options)
    _print_warnings(planned)
    if output is None:
        sys.stdout.write(text)
        return 0
    from ..documents._io import write_atomic

    write_atomic(output, text, mode=0o755)
    machines = "a Slurm job" if slurm or slurm_native else f"{planned.max_nodes} machine(s)"
    print(f"simdist script: wrote {output} for {machines}", file=sys.stderr)
    return 0


def _run_from_console() -> bool:
    """The header names the command line only when this process is the `simdist` command itself."""
    return len(sys.argv) > 1 and sys.argv[1] == "script"


def _print_warnings(spec: LaunchSpec) -> None:
    from ..launch._make import make_plan

    for warning in make_plan(spec).warnings:
        if warning.level == "warning":
            message = warning.message.replace("simdist-master-addr-placeholder", "the first node")
            print(f"simdist script: warning [{warning.code}]: {message}", file=sys.stderr)
