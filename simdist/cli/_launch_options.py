"""The LAUNCH OPTIONS every command shares, turned into one LaunchSpec.

Commands declare ``spec: LaunchSpec`` and decorate themselves with
:func:`launch_options`; the decorator adds the options to the command's signature
(Typer reads signatures) and builds the spec, or reads a pasted torchrun command.
"""

import dataclasses
import functools
import inspect
import os
from typing import Annotated, Optional

import typer

from .._errors import ConfigError
from ..launch._spec import LaunchSpec

PANEL = "Launch options (as torchrun's)"
MACHINE_PANEL = "The machines"


def _opt(*names: str, help: str, panel: str = PANEL, **kw) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help, rich_help_panel=panel, show_default=False, **kw)


LAUNCH_PARAMETERS = {
    "nnodes": Annotated[
        Optional[str], _opt("--nnodes", help="Number of nodes, N or MIN:MAX. \\[default: 1]", metavar="N|MIN:MAX")
    ],
    "nproc": Annotated[
        Optional[str],
        _opt(
            "--nproc",
            "--nproc-per-node",
            "--nproc_per_node",
            help="Processes per node: one number, one per node (2,4), or gpu (= --gpus-per-node). \\[default: 1]",
            metavar="P|P0,P1,…",
        ),
    ],
    "node_rank": Annotated[
        Optional[int],
        _opt("--node-rank", "--node_rank", help="This machine's node rank (highlighted; static rendezvous only)."),
    ],
    "master_addr": Annotated[
        Optional[str], _opt("--master-addr", "--master_addr", help="Address of node 0. \\[default: 127.0.0.1]")
    ],
    "master_port": Annotated[
        Optional[int],
        _opt("--master-port", "--master_port", help="Store port on node 0. \\[default: 29500; see auto-c10d]"),
    ],
    "rdzv_backend": Annotated[
        Optional[str],
        _opt("--rdzv-backend", "--rdzv_backend", help="static or c10d. \\[default: static]", metavar="static|c10d"),
    ],
    "rdzv_endpoint": Annotated[
        Optional[str], _opt("--rdzv-endpoint", "--rdzv_endpoint", help="HOST[:PORT] of the rendezvous store.")
    ],
    "rdzv_id": Annotated[Optional[str], _opt("--rdzv-id", "--rdzv_id", help="Job id. \\[default: none]")],
    "rdzv_conf": Annotated[
        Optional[str],
        _opt("--rdzv-conf", "--rdzv_conf", help="Rendezvous settings k=v,… (join_timeout, last_call_timeout, timeout)."),
    ],
    "max_restarts": Annotated[
        Optional[int], _opt("--max-restarts", "--max_restarts", help="Worker group restarts allowed. \\[default: 0]")
    ],
    "standalone": Annotated[bool, _opt("--standalone", help="Single-node rendezvous on a free local port.")],
    "role": Annotated[Optional[str], _opt("--role", help="Worker role, one or one per node. \\[default: default]")],
    "virtual_local_rank": Annotated[
        bool, _opt("--virtual-local-rank", "--virtual_local_rank", help="LOCAL_RANK=0, one GPU visible per worker.")
    ],
    "log_dir": Annotated[Optional[str], _opt("--log-dir", "--log_dir", help="torchrun's log directory.")],
    "gpus_per_node": Annotated[
        Optional[str],
        _opt(
            "--gpus-per-node",
            "--gpus_per_node",
            help="GPUs each machine has, one or one per node. \\[default: as many as processes]",
            panel=MACHINE_PANEL,
        ),
    ],
    "cuda_visible_devices": Annotated[
        Optional[list[str]],
        _opt(
            "--cuda-visible-devices",
            "--cuda_visible_devices",
            help="CUDA_VISIBLE_DEVICES torchrun sees; once for all nodes or repeated once per node.",
            panel=MACHINE_PANEL,
            metavar="LIST",
        ),
    ],
    "hosts": Annotated[
        Optional[str],
        _opt("--hosts", help="Each machine's address, comma-separated (c10d ranks agents by it).", panel=MACHINE_PANEL),
    ],
    "env": Annotated[
        Optional[list[str]],
        _opt(
            "--env",
            help="A variable in torchrun's environment, KEY=VALUE (OMP_NUM_THREADS, TORCH_NCCL_…); repeatable.",
            panel=MACHINE_PANEL,
            metavar="KEY=VALUE",
        ),
    ],
    "script": Annotated[
        Optional[str],
        _opt("--script", help="Training script and its arguments. \\[default: train.py]", panel=MACHINE_PANEL),
    ],
}

COMMAND_PARAMETER = Annotated[
    Optional[list[str]],
    typer.Argument(
        help="A whole torchrun command after `--`: torchrun … or python -m torch.distributed.run …",
        show_default=False,
        metavar="[-- TORCHRUN COMMAND…]",
    ),
]


def _parse_env(items: list[str] | None) -> dict[str, str]:
    env = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(f"--env expects KEY=VALUE, got {item!r}")
        env[key] = value
    return env


def _count_local_gpus(token: str) -> int:
    """What torchrun's ``--nproc-per-node gpu`` resolves to on this machine (asked in a subprocess:
    the launcher itself never imports torch)."""
    import subprocess
    import sys

    probe = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        count = int(result.stdout.strip() or "0")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        count = 0
    if count == 0:
        raise ConfigError(f"--nproc {token}: CUDA is not available on this machine (torchrun: 'Cuda is not available.')")
    return count


def build_spec(command: list[str] | None, local_machine: bool = False, scripts: bool = False, **options) -> LaunchSpec:
    """One LaunchSpec from the launch options, or from a pasted torchrun command.

    ``local_machine``: the launch runs here (``--real``), so ``--nproc gpu`` means this
    machine's GPU count and the shell's CUDA_VISIBLE_DEVICES applies, as under torchrun.
    ``scripts``: words that are not a torchrun command are the script and its arguments.
    """
    if command and scripts:
        from ..launch._torchrun_args import is_launcher_command

        if not is_launcher_command(command):
            if options.get("script") is not None:
                raise ConfigError("give the script once: as --script or after the launch options, not both")
            options["script"] = None
            spec = build_spec(None, local_machine, **options)
            return dataclasses.replace(spec, script=tuple(command))
    gpus = options.pop("gpus_per_node")
    hosts = options.pop("hosts")
    gpus_per_node = [int(g) if g.strip().isdigit() else g for g in gpus.split(",")] if gpus else None
    if gpus_per_node is not None and any(isinstance(g, str) for g in gpus_per_node):
        raise ConfigError(f"--gpus-per-node must be integers, got {gpus!r}")
    if command:
        given = sorted(k for k, v in options.items() if v not in (None, False))
        if given:
            names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ConfigError(f"give launch options as simdist options or as a pasted torchrun command, not both ({names})")
        from ..launch._torchrun_args import spec_from_command  # argparse only for pasted commands

        return spec_from_command(command, gpus_per_node=gpus_per_node, hosts=hosts.split(",") if hosts else None)
    nproc = options["nproc"] or "1"
    if nproc.strip() in ("gpu", "auto"):
        if gpus_per_node is None and local_machine:
            gpus_per_node = [_count_local_gpus(nproc.strip())]
        if gpus_per_node is None:
            raise ConfigError(f"--nproc {nproc} means one process per GPU: tell simdist how many with --gpus-per-node")
        nproc = gpus_per_node
    visible = options["cuda_visible_devices"]
    if not visible and local_machine and "CUDA_VISIBLE_DEVICES" in os.environ:
        visible = [os.environ["CUDA_VISIBLE_DEVICES"]]  # torchrun's workers here inherit the shell's value
    return LaunchSpec(
        nnodes=options["nnodes"] or 1,
        nproc_per_node=nproc,
        node_rank=options["node_rank"],
        master_addr=options["master_addr"] or "127.0.0.1",
        master_port=options["master_port"],
        rdzv_backend=options["rdzv_backend"] or "static",
        rdzv_endpoint=options["rdzv_endpoint"] or "",
        rdzv_id=options["rdzv_id"] or "none",
        rdzv_conf=options["rdzv_conf"] or (),
        standalone=options["standalone"],
        max_restarts=options["max_restarts"] or 0,
        role=options["role"] or "default",
        gpus_per_node=gpus_per_node,
        visible_devices=None if not visible else (visible[0] if len(visible) == 1 else visible),
        hosts=hosts,
        virtual_local_rank=options["virtual_local_rank"],
        log_dir=options["log_dir"],
        launcher_env=_parse_env(options["env"]),
        script=_split_script(options["script"]),
    )


def _split_script(text: str | None) -> tuple[str, ...]:
    import shlex

    if text is None:
        return ("train.py",)
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"--script {text!r}: {exc}") from None
    return tuple(words) or ("train.py",)


def launch_options(func=None, *, scripts: bool = False, runs_here: bool = False):
    """Give a command the launch options; it receives ``spec`` (a LaunchSpec) instead.

    The command may declare ``command`` (the pasted torchrun words after ``--``);
    if it does not, the parameter is still accepted and passed to the spec builder.
    ``scripts``: the command also takes ``SCRIPT.py ARGS…`` in the same place.
    ``runs_here``: the command always launches on this machine (as ``--real`` does).
    """
    if func is None:
        return functools.partial(launch_options, scripts=scripts, runs_here=runs_here)
    signature = inspect.signature(func)
    own = [p for p in signature.parameters.values() if p.name != "spec"]
    takes_command = "command" in signature.parameters
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=_default(annotation))
        for name, annotation in LAUNCH_PARAMETERS.items()
    ]
    if not takes_command:
        added.append(
            inspect.Parameter("command", inspect.Parameter.KEYWORD_ONLY, annotation=COMMAND_PARAMETER, default=None)
        )

    @functools.wraps(func)
    def command(**kwargs):
        options = {name: kwargs.pop(name) for name in LAUNCH_PARAMETERS}
        pasted = kwargs["command"] if takes_command else kwargs.pop("command")
        spec = build_spec(pasted, local_machine=runs_here or bool(kwargs.get("real")), scripts=scripts, **options)
        return func(spec=spec, **kwargs)

    command.__signature__ = signature.replace(
        parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
    )
    return command


def _default(annotation) -> object:
    return False if annotation.__origin__ is bool else None
