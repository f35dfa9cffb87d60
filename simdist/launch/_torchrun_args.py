"""Read a pasted torchrun command line the way torchrun 2.13 reads it.

The option table mirrors ``torch.distributed.run.get_args_parser()`` (the tests
compare the two on generated command lines), including both ``-``/``_`` spellings
and the ``PET_<DEST>`` environment defaults of ``torch.distributed.argparse_util``.
torch itself is never imported: ``simdist explain`` must start instantly.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Mapping, Sequence

from .._errors import ConfigError
from ._spec import LAUNCHER_ENV_KEYS, LaunchSpec

__all__ = ["parse_torchrun_args", "spec_from_command"]

_LAUNCHERS = ("torchrun", "torch.distributed.run")
_PYTHON_NAMES = ("python", "python3")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit(2)
        raise ConfigError(f"torchrun would refuse this command: {message}")


def _env_default(environ: Mapping[str, str], dest: str, default):
    # argparse_util.env: PET_<DEST> replaces the default; argparse then applies `type`.
    return environ.get(f"PET_{dest.upper()}", default)


def _flag_default(environ: Mapping[str, str], dest: str) -> bool:
    raw = environ.get(f"PET_{dest.upper()}", "0")
    try:
        return bool(int(raw))
    except ValueError:
        raise ConfigError(f"PET_{dest.upper()}={raw!r} must be 0 or 1") from None


def _comma_separated_list(value: str) -> list[str]:
    placeholder = "\0"  # torch's escape: ",," is a literal comma
    return [item.replace(placeholder, ",") for item in value.replace(",,", placeholder).split(",")]


def _build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _Parser(prog="torchrun", add_help=False, allow_abbrev=True)

    def option(*names: str, type=str, default=None, env=True, **kwargs) -> None:
        dest = max(names, key=len).lstrip("-").replace("-", "_")
        if env:
            default = _env_default(environ, dest, default)
        parser.add_argument(*names, dest=dest, type=type, default=default, **kwargs)

    def flag(*names: str) -> None:
        dest = max(names, key=len).lstrip("-").replace("-", "_")
        parser.add_argument(*names, dest=dest, action="store_const", const=True, default=_flag_default(environ, dest))

    option("--nnodes", default="1:1")
    option("--nproc-per-node", "--nproc_per_node", default="1")
    option("--rdzv-backend", "--rdzv_backend", default="static")
    option("--rdzv-endpoint", "--rdzv_endpoint", default="")
    option("--rdzv-id", "--rdzv_id", default="none")
    option("--rdzv-conf", "--rdzv_conf", default="")
    flag("--standalone")
    option("--max-restarts", "--max_restarts", type=int, default=0)
    option("--monitor-interval", "--monitor_interval", type=float, default=0.1)
    option("--start-method", "--start_method", default="spawn", choices=["spawn", "fork", "forkserver"])
    option("--event-log-handler", "--event_log_handler", default="null")
    option("--role", default="default")
    flag("-m", "--module")
    flag("--no-python", "--no_python")
    flag("--run-path", "--run_path")
    option("--log-dir", "--log_dir")
    option("-r", "--redirects", default="0")
    option("-t", "--tee", default="0")
    option("--local-ranks-filter", "--local_ranks_filter", default="")
    option("--duplicate-stdout-filters", "--duplicate_stdout_filters", type=_comma_separated_list, default=[])
    option("--duplicate-stderr-filters", "--duplicate_stderr_filters", type=_comma_separated_list, default=[])
    option("--node-rank", "--node_rank", type=int, default=0)
    option("--master-addr", "--master_addr", default="127.0.0.1")
    option("--master-port", "--master_port", type=int, default=None)
    option("--local-addr", "--local_addr")
    option("--logs-specs", "--logs_specs", env=False)
    option("--numa-binding", "--numa_binding", env=False, choices=["node", "socket", "exclusive", "core-complex"])
    option("--signals-to-handle", "--signals_to_handle", default="SIGTERM,SIGINT,SIGHUP,SIGQUIT")
    option("--shutdown-timeout", "--shutdown_timeout", type=int, default=None)
    flag("--virtual-local-rank", "--virtual_local_rank")
    parser.add_argument("training_script", type=str)
    parser.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return parser


def parse_torchrun_args(args: Sequence[str], environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """Parse torchrun's own arguments (without the ``torchrun`` word) like torch 2.13.

    ``environ`` supplies ``PET_*`` defaults (default: this process' environment).
    """
    environ = os.environ if environ is None else environ
    try:
        return _build_parser(environ).parse_args(list(args))
    except argparse.ArgumentError as exc:  # pragma: no cover - _Parser.error normally catches these
        raise ConfigError(f"torchrun would refuse this command: {exc}") from None


def _split_launcher(command: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Strip ``KEY=VALUE`` prefixes and the launcher words; return (env, torchrun args)."""
    words = list(command)
    if len(words) == 1 and " " in words[0]:
        words = shlex.split(words[0])  # a whole command pasted as one quoted argument
    env: dict[str, str] = {}
    while words and "=" in words[0] and not words[0].startswith("-") and words[0].split("=", 1)[0].isidentifier():
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    if words and words[0] == "env":
        words.pop(0)
        return _split_launcher([*[f"{k}={v}" for k, v in env.items()], *words])
    if not words:
        raise ConfigError("the pasted command is empty: expected `torchrun …` or `python -m torch.distributed.run …`")
    head = os.path.basename(words[0])
    if head == "torchrun":
        return env, words[1:]
    if head.startswith(_PYTHON_NAMES) and len(words) >= 3 and words[1] == "-m":
        if words[2] in _LAUNCHERS:
            return env, words[3:]
        if words[2] == "torch.distributed.launch":
            raise ConfigError(
                "torch.distributed.launch is the deprecated launcher (it passes --local-rank); "
                "simdist explains torchrun / python -m torch.distributed.run"
            )
    raise ConfigError(
        f"expected a torchrun command (`torchrun …` or `python -m torch.distributed.run …`), got {words[0]!r}"
    )


def is_launcher_command(command: Sequence[str]) -> bool:
    """Does ``command`` start (after ``KEY=VALUE`` prefixes) with torchrun or ``python -m torch.distributed.…``?"""
    words = list(command)
    if len(words) == 1 and " " in words[0]:
        try:
            words = shlex.split(words[0])
        except ValueError:
            return False
    while words and "=" in words[0] and not words[0].startswith("-") and words[0].split("=", 1)[0].isidentifier():
        words.pop(0)
    if words and words[0] == "env":
        return is_launcher_command(words[1:])
    if not words:
        return False
    head = os.path.basename(words[0])
    return head == "torchrun" or (head.startswith(_PYTHON_NAMES) and len(words) >= 3 and words[1] == "-m"
                                  and words[2].startswith("torch.distributed."))  # fmt: skip


def spec_from_command(
    command: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    gpus_per_node: int | Sequence[int] | None = None,
    hosts: Sequence[str] | None = None,
) -> LaunchSpec:
    """Build the LaunchSpec a pasted torchrun command describes.

    A multi-node command is one machine's: the others are assumed to run the same
    command with their own ``--node-rank``. ``KEY=VALUE`` prefixes join the launcher's
    environment (they override ``environ``, as a shell would).
    """
    prefix_env, args = _split_launcher(command)
    environ = {**(os.environ if environ is None else environ), **prefix_env}
    ns = parse_torchrun_args(args, environ)
    nproc = _resolve_nproc(ns.nproc_per_node, gpus_per_node)
    launcher_env = {k: environ[k] for k in LAUNCHER_ENV_KEYS if k in environ}
    if hosts is None and ns.local_addr and str(ns.nnodes).strip() in ("1", "1:1"):
        hosts = [ns.local_addr]
    if ns.local_ranks_filter:
        try:
            [int(r) for r in ns.local_ranks_filter.split(",")]
        except ValueError:
            raise ConfigError(
                "--local_ranks_filter must be a comma-separated list of integers e.g. --local_ranks_filter=0,1,2"
            ) from None
    script = [ns.training_script, *ns.training_script_args]
    return LaunchSpec(
        nnodes=ns.nnodes,
        nproc_per_node=nproc,
        node_rank=ns.node_rank,
        master_addr=ns.master_addr,
        master_port=ns.master_port,
        rdzv_backend=ns.rdzv_backend,
        rdzv_endpoint=ns.rdzv_endpoint,
        rdzv_id=ns.rdzv_id,
        rdzv_conf=ns.rdzv_conf,
        standalone=ns.standalone,
        max_restarts=ns.max_restarts,
        role=ns.role,
        gpus_per_node=gpus_per_node,
        visible_devices=environ.get("CUDA_VISIBLE_DEVICES"),
        hosts=hosts,
        virtual_local_rank=ns.virtual_local_rank,
        log_dir=ns.log_dir,
        signals_to_handle=ns.signals_to_handle,
        launcher_env=launcher_env,
        script=script,
        module=ns.module,
        no_python=ns.no_python,
    )


def _resolve_nproc(value: str, gpus_per_node: int | Sequence[int] | None) -> int | Sequence[int]:
    """``--nproc-per-node`` as torchrun's ``determine_local_world_size`` would see it."""
    try:
        return int(value)
    except ValueError:
        pass
    if value in ("gpu", "auto"):
        if gpus_per_node is None:
            raise ConfigError(
                f"--nproc-per-node {value} means torch.cuda.device_count() on each machine: "
                "tell simdist how many with --gpus-per-node"
            )
        return gpus_per_node
    if value in ("cpu", "xpu"):
        raise ConfigError(f"--nproc-per-node {value} depends on the machine; give a number instead")
    raise ConfigError(f"Unsupported nproc_per_node value: {value}")
