"""Launch scripts that run what ``simdist explain`` shows: one bash file for every machine, or for Slurm.

Three shapes, one rule book (:func:`torchrun_argv`, the same function ``explain`` prints with):

- :func:`hosts_script`: the seed tutorial's script made safe. It finds this machine among
  ``--hosts`` by its own addresses (``hostname -I``, ``ip -o addr``; exact matches, not the
  substring test that lets 192.168.5.22 pass for 192.168.5.228), takes that machine's
  interface, exports ``NCCL_SOCKET_IFNAME``/``GLOO_SOCKET_IFNAME`` and ``exec``\\ s torchrun
  with that node's arguments. A machine not in the list stops with one line.
- :func:`slurm_script`: an sbatch file that starts one torchrun per node
  (``srun --ntasks-per-node=1``, whatever ``sbatch`` was given, so it cannot double-launch),
  with a c10d rendezvous on the first node of the allocation and the job id as run id.
- :func:`slurm_native_script`: the other Slurm convention, one task per process and no
  torchrun: RANK and friends are copied from SLURM_PROCID/SLURM_LOCALID/SLURM_NTASKS.

Every value a user typed reaches the script through :func:`shlex.quote` (or a ``"$VAR"``
the script set itself); comments show values with control characters escaped, so no
input can end a comment or a quoted word early. Standard library only.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .._errors import ConfigError
from ._commands import launcher_env_for, torchrun_argv
from ._spec import DEFAULT_C10D_PORT, DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT, LAUNCHER_ENV_KEYS, WORKER_ENV_KEYS, LaunchSpec

__all__ = [
    "NCCL_DEBUG_LEVELS",
    "ScriptOptions",
    "check_ifname",
    "hosts_script",
    "prepare_hosts_spec",
    "slurm_native_script",
    "slurm_native_spec",
    "slurm_script",
    "slurm_spec",
]

NCCL_DEBUG_LEVELS = ("VERSION", "WARN", "INFO", "TRACE")  # NCCL's documented NCCL_DEBUG values
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Set by the script itself, or by torchrun for every worker: refused in --env-for.
_MANAGED = {"NCCL_SOCKET_IFNAME": "--ifname", "GLOO_SOCKET_IFNAME": "--ifname", "CUDA_VISIBLE_DEVICES":
            "--cuda-visible-devices"}  # fmt: skip
# Placeholders for values only the Slurm job knows; they pass LaunchSpec's checks and are
# swapped for "$VAR" once the arguments are quoted.
_SLURM_HOST = "simdist-master-addr-placeholder"
_SLURM_ID = "simdist-job-id-placeholder"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptOptions:
    """What the script adds around torchrun (everything but the launch itself)."""

    ifnames: tuple[str, ...] | None = None  # one per host, or one for all; None: the host address' interface
    env_for: tuple[tuple[int, str, str], ...] = ()  # (node, KEY, VALUE): that machine only
    torchrun: tuple[tuple[str, ...], ...] = (("torchrun",),)  # the launcher's words: one for all, or one per host
    python: tuple[str, ...] = ("python3",)  # --slurm-native: the interpreter
    ib_disable: bool | None = None
    ib_hca: str | None = None
    nccl_debug: str | None = None
    cpus_per_task: int | None = None  # Slurm: CPUs for each task (srun does not inherit sbatch's)
    job_name: str | None = None
    invocation: str = ""  # the command that wrote the script, for its header


# -- validation -----------------------------------------------------------------------


def check_ifname(name: str) -> str:
    """A Linux interface name NCCL and gloo can be given (``dev_valid_name`` + their list syntax)."""
    if not name:
        raise ConfigError("--ifname: an interface name is empty")
    if len(name.encode("utf-8")) > 15:
        raise ConfigError(f"--ifname {name!r}: Linux interface names are at most 15 bytes")
    if name in (".", "..") or any(c in name for c in "/:") or any(c.isspace() for c in name):
        raise ConfigError(f"--ifname {name!r} is not a Linux interface name (no '/', ':' or white space)")
    if "," in name:
        raise ConfigError(f"--ifname {name!r}: NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME read ',' as a separator")
    if "\0" in name:
        raise ConfigError("--ifname: an interface name cannot hold a NUL byte")
    return name


def _check_text(what: str, value: str) -> str:
    if "\0" in value:
        raise ConfigError(f"{what}: a shell script cannot carry a NUL byte")
    return value


def _check_key(what: str, key: str) -> str:
    if not _SHELL_NAME.fullmatch(key):
        raise ConfigError(f"{what}: {key!r} is not a shell variable name (letters, digits and _, not first a digit)")
    return key


def _check_env_for(spec: LaunchSpec, options: ScriptOptions) -> None:
    for node, key, value in options.env_for:
        if not 0 <= node < spec.max_nodes:
            raise ConfigError(f"--env-for {node}:{key}: there is no node {node} (nodes are 0..{spec.max_nodes - 1})")
        _check_key("--env-for", key)
        _check_text(f"--env-for {node}:{key}", value)
        if key in _MANAGED:
            raise ConfigError(f"--env-for {node}:{key}: the script sets {key} itself; use {_MANAGED[key]}")
        if key in WORKER_ENV_KEYS or key.startswith("TORCHELASTIC_"):
            raise ConfigError(f"--env-for {node}:{key}: torchrun sets {key} for every worker itself")
        if key in LAUNCHER_ENV_KEYS:
            raise ConfigError(
                f"--env-for {node}:{key}: {key} changes what torchrun gives the workers; set it for every "
                "machine with --env, so that explain and the script agree"
            )


def _check_common(spec: LaunchSpec, options: ScriptOptions) -> None:
    for key, value in spec.launcher_env:
        _check_key("--env", key)
        _check_text(f"--env {key}", value)
    for word in spec.script:
        _check_text("the training script's arguments", word)
    if spec.log_dir is not None:
        _check_text("--log-dir", spec.log_dir)
    for words in (*options.torchrun, options.python):
        if not words or not all(words):
            raise ConfigError("--torchrun/--python: a launcher command is empty")
        for word in words:
            _check_text("--torchrun/--python", word)
    if options.ib_hca is not None and not options.ib_hca.strip():
        raise ConfigError("--ib-hca is empty")
    if options.ib_hca is not None:
        _check_text("--ib-hca", options.ib_hca)
    if options.nccl_debug is not None and options.nccl_debug not in NCCL_DEBUG_LEVELS:
        raise ConfigError(f"--nccl-debug {options.nccl_debug!r}: NCCL knows {', '.join(NCCL_DEBUG_LEVELS)}")
    if options.cpus_per_task is not None and options.cpus_per_task < 1:
        raise ConfigError("--cpus-per-task must be at least 1")
    if options.job_name is not None:
        _check_text("--job-name", options.job_name)
        if "\n" in options.job_name or "\r" in options.job_name:
            raise ConfigError("--job-name cannot span lines (#SBATCH reads one line)")
        if "\\" in options.job_name:  # sbatch's get_argument takes a backslash as an escape even in quotes
            raise ConfigError("--job-name cannot hold a backslash: #SBATCH lines would read it as an escape")
    _check_env_for(spec, options)


def _per_host(what: str, values: Sequence, count: int) -> tuple:
    if len(values) == 1:
        return tuple(values) * count
    if len(values) != count:
        raise ConfigError(f"{what} lists {len(values)} values but there are {count} hosts; give one, or one per host")
    return tuple(values)


# -- quoting -----------------------------------------------------------------------------


def _q(value: str) -> str:
    return shlex.quote(value)


def _comment(text: str) -> str:
    """A comment line that shows ``text`` with anything that could end the line escaped."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return "# " + shown if shown else "#"


def _array(name: str, words: Sequence[str]) -> str:
    return f"{name}=(" + " ".join(_q(w) for w in words) + ")"


def _word_with_vars(word: str, variables: dict[str, str]) -> str:
    """Quote ``word``, turning each placeholder into a double-quoted ``"${VAR}"`` expansion."""
    pattern = "(" + "|".join(re.escape(p) for p in variables) + ")"
    parts = []
    for piece in re.split(pattern, word):
        if piece in variables:
            parts.append(f'"${{{variables[piece]}}}"')
        elif piece:
            parts.append(_q(piece))
    return "".join(parts) or "''"


def _exports(options: ScriptOptions, ifname_var: str | None) -> list[str]:
    lines = []
    if ifname_var is not None:
        lines += [
            "# NCCL reads a bare name as a prefix (ens1 would also pick ens10); '=' asks for exactly this one.",
            f'export NCCL_SOCKET_IFNAME="=${{{ifname_var}}}"',
            f'export GLOO_SOCKET_IFNAME="${{{ifname_var}}}"',
        ]
    if options.ib_disable is not None:
        lines.append(f"export NCCL_IB_DISABLE={1 if options.ib_disable else 0}")
    if options.ib_hca is not None:
        lines.append(f"export NCCL_IB_HCA={_q(options.ib_hca)}")
    if options.nccl_debug is not None:
        lines.append(f"export NCCL_DEBUG={options.nccl_debug}")
    lines.append("export PYTHONUNBUFFERED=1  # logs as they happen, not when a buffer fills")
    return lines


# -- plain machines -------------------------------------------------------------------------


def prepare_hosts_spec(spec: LaunchSpec) -> LaunchSpec:
    """The spec a hosts script runs: node 0 (the first host) hosts the store unless told otherwise.

    With ``--hosts`` and no ``--master-addr``, MASTER_ADDR is the first host (the static
    store lives on node 0); a c10d launch without ``--rdzv-endpoint`` meets on the first
    host at port 29400 (or ``--master-port``).
    """
    if spec.hosts is None:
        raise ConfigError("simdist script needs --hosts: every machine's address, node 0 first")
    if spec.node_rank is not None:
        raise ConfigError("--node-rank: the script finds each machine's node rank itself; leave it out")
    hosts = [h.strip("[]") for h in spec.hosts]
    if len(set(hosts)) != len(hosts):
        twice = sorted({h for h in hosts if hosts.count(h) > 1})
        raise ConfigError(f"--hosts lists {', '.join(twice)} more than once: each node must be a different machine")
    changes: dict = {}
    if spec.master_addr == DEFAULT_MASTER_ADDR and spec.rdzv_backend == "static" and not spec.standalone:
        changes["master_addr"] = spec.hosts[0]
    if spec.rdzv_backend == "c10d" and not spec.rdzv_endpoint and not spec.standalone:
        port = spec.master_port if spec.master_port is not None else DEFAULT_C10D_PORT
        host = spec.hosts[0]
        changes["rdzv_endpoint"] = f"[{host.strip('[]')}]:{port}" if ":" in host.strip("[]") else f"{host}:{port}"
        changes["master_port"] = None
    if spec.rdzv_backend == "static" and spec.master_port is None and spec.max_nodes == 1 and not spec.standalone:
        changes["master_port"] = DEFAULT_MASTER_PORT  # one host: keep the store where the script says, not auto-c10d
    return dataclasses.replace(spec, **changes) if changes else spec


def hosts_script(spec: LaunchSpec, options: ScriptOptions) -> str:
    """One bash script for every machine in ``spec.hosts`` (call :func:`prepare_hosts_spec` first)."""
    _check_common(spec, options)
    n = spec.max_nodes
    hosts = tuple(h.strip("[]") for h in spec.hosts or ())
    if len(hosts) != n:
        raise ConfigError(f"--hosts lists {len(hosts)} addresses but there are {n} nodes")
    ifnames = None if options.ifnames is None else _per_host("--ifname", [check_ifname(i) for i in options.ifnames], n)
    launchers = _per_host("--torchrun", options.torchrun, n)
    lines = [
        "#!/usr/bin/env bash",
        "# shellcheck disable=SC2016  # values are single-quoted on purpose: nothing in them may expand",
        f"# One launch script for all {n} machine{'s' * (n != 1)} of this torchrun job, written by `simdist script`.",
        "# Run this same file on every machine. It finds this machine among the hosts below by its own",
        "# addresses (hostname -I, ip -o addr: whole addresses, never a part of one), takes that node's",
        "# interface and starts torchrun with that node's arguments: what `simdist explain` shows for it.",
        "#",
    ]
    for i in range(n):
        where = f"interface {ifnames[i]}" if ifnames else "interface: the one carrying this address"
        lines.append(_comment(f"  node {i}: {hosts[i]}  ({where})"))
        lines.append(_comment(f"    {_shown_command(spec, i, launchers[i])}"))
    if options.invocation:
        lines += ["#", _comment(f"Written by: {options.invocation}")]
    lines += [
        "set -euo pipefail",
        'me="${0##*/}"',
        "",
        _array("HOSTS", hosts),
        "",
        "# This machine's addresses and names, one per line.",
        "own_names() {",
        "  hostname -I 2>/dev/null | tr ' ' '\\n' || true",
        "  ip -o addr show 2>/dev/null | awk '{ split($4, a, \"/\"); print a[1] }' || true",
        "  hostname 2>/dev/null || true",
        "  hostname -s 2>/dev/null || true",
        "  hostname -f 2>/dev/null || true",
        "}",
    ]
    if ifnames is None:
        lines += [
            "# The interface that carries an address here (ip -o addr), or nothing.",
            "interface_of() {",
            "  ip -o addr show 2>/dev/null | awk -v want=\"$1\" '{ split($4, a, \"/\"); if (a[1] == want) "
            "{ sub(/@.*/, \"\", $2); print $2; exit } }' || true",
            "}",
        ]
    lines += [
        "",
        'mine=" $(own_names | tr \'\\n\' \' \') "',
        'NODE_RANK=""',
        'for i in "${!HOSTS[@]}"; do',
        '  case "$mine" in',
        '    *" ${HOSTS[i]} "*)',
        '      if [ -n "$NODE_RANK" ]; then',
        '        echo "$me: this machine has the addresses of two nodes (${HOSTS[NODE_RANK]} and ${HOSTS[i]}); '
        'each host must be a different machine" >&2',
        "        exit 1",
        "      fi",
        "      NODE_RANK=$i",
        "      ;;",
        "  esac",
        "done",
        'if [ -z "$NODE_RANK" ]; then',
        '  echo "$me: this machine (${mine# }) is none of the hosts (${HOSTS[*]}); run this script on one of them" >&2',
        "  exit 1",
        "fi",
        "",
        'case "$NODE_RANK" in',
    ]
    for i in range(n):
        lines.append(f"  {i})")
        if ifnames is not None:
            lines.append(f"    IFNAME={_q(ifnames[i])}")
        else:
            lines.append(f"    IFNAME=$(interface_of {_q(hosts[i])})")
        lines.append("    " + _array("TORCHRUN", launchers[i]))
        for key, value in sorted(launcher_env_for(spec, i).items()):
            lines.append(f"    export {key}={_q(value)}")
        for node, key, value in options.env_for:
            if node == i:
                lines.append(f"    export {key}={_q(value)}")
        lines.append("    " + _array("ARGS", torchrun_argv(spec, i, launcher="")))
        lines.append("    ;;")
    lines += ["esac", ""]
    if ifnames is None:
        lines += [
            'if [ -z "$IFNAME" ]; then',
            '  echo "$me: no interface here carries ${HOSTS[NODE_RANK]} (ip -o addr); give simdist script --ifname" >&2',
            "  exit 1",
            "fi",
        ]
    lines += _exports(options, "IFNAME")
    lines += [
        "",
        f'echo "$me: node $NODE_RANK of {n} (${{HOSTS[NODE_RANK]}}, interface $IFNAME): $(printf \'%q \' '
        '"${TORCHRUN[@]}" "${ARGS[@]}")" >&2',
        'exec "${TORCHRUN[@]}" "${ARGS[@]}"',
        "",
    ]
    return "\n".join(lines)


def _shown_command(spec: LaunchSpec, machine: int, launcher: Sequence[str]) -> str:
    prefix = [f"{k}={_q(v)}" for k, v in sorted(launcher_env_for(spec, machine).items())]
    return " ".join([*prefix, shlex.join([*launcher, *torchrun_argv(spec, machine, launcher="")])])


# -- Slurm -------------------------------------------------------------------------------------


def _slurm_checks(spec: LaunchSpec, options: ScriptOptions) -> None:
    _check_common(spec, options)
    if spec.node_rank is not None:
        raise ConfigError("--node-rank: under Slurm every node gets its rank from the job; leave it out")
    if spec.hosts is not None:
        raise ConfigError("--hosts: under Slurm the allocation decides the machines; leave it out")
    if not spec.homogeneous:
        raise ConfigError("--slurm needs the same --nproc on every node (one sbatch, one task layout for all)")
    if spec.visible_devices is not None and len(set(spec.visible_devices)) > 1:
        raise ConfigError("--slurm: give one --cuda-visible-devices for every node, or none")
    if len(options.torchrun) > 1:
        raise ConfigError("--torchrun: under Slurm give one launcher command, the same on every node")
    if options.ifnames is not None and len(set(options.ifnames)) > 1:
        raise ConfigError("--ifname: under Slurm give one interface name, the same on every node")
    if options.env_for:
        raise ConfigError("--env-for: under Slurm nodes are not known in advance; use --env for all of them")
    if spec.standalone and spec.max_nodes > 1:
        raise ConfigError("--standalone starts a rendezvous on each node alone; it cannot span a Slurm job")


def _sbatch_header(spec: LaunchSpec, options: ScriptOptions, tasks_per_node: int, what: list[str]) -> list[str]:
    nodes = str(spec.min_nodes) if spec.min_nodes == spec.max_nodes else f"{spec.min_nodes}-{spec.max_nodes}"
    lines = ["#!/bin/bash"]
    if options.job_name is not None:
        lines.append(f"#SBATCH --job-name={_q(options.job_name)}")
    lines += [f"#SBATCH --nodes={nodes}", f"#SBATCH --ntasks-per-node={tasks_per_node}"]
    if options.cpus_per_task is not None:
        lines.append(f"#SBATCH --cpus-per-task={options.cpus_per_task}")
    if spec.gpus_per_node is not None and spec.gpus_per_node[0]:
        lines.append(f"#SBATCH --gpus-per-node={spec.gpus_per_node[0]}")
    lines += [_comment(line) for line in what]
    if options.invocation:
        lines += ["#", _comment(f"Written by: {options.invocation}")]
    lines += [
        "set -eu",
        'me="${0##*/}"',
        'if [ -z "${SLURM_JOB_ID:-}" ]; then',
        '  echo "$me: submit this with sbatch: it reads the allocation from SLURM_JOB_NODELIST" >&2',
        "  exit 1",
        "fi",
        'nodes="${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-}}"',
        f'if [ -z "$nodes" ] || [ "$nodes" -lt {spec.min_nodes} ] || [ "$nodes" -gt {spec.max_nodes} ]; then',
        f'  echo "$me: this job has ${{nodes:-no}} nodes; the launch was planned for {spec.nnodes}" >&2',
        "  exit 1",
        "fi",
        "# The first node of the allocation hosts the rendezvous.",
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
    ]
    return lines


def _srun(options: ScriptOptions, ntasks: str, per_node: int, extra: Sequence[str] = ()) -> str:
    words = ["srun", '--nodes="$nodes"', f"--ntasks={ntasks}", f"--ntasks-per-node={per_node}", *extra]
    if options.cpus_per_task is not None:  # since Slurm 22.05 srun does not inherit sbatch's --cpus-per-task
        words.append(f"--cpus-per-task={options.cpus_per_task}")
    words.append("--kill-on-bad-exit=1")
    return " ".join(words)


def slurm_spec(spec: LaunchSpec) -> tuple[LaunchSpec, int]:
    """The launch a Slurm job runs: c10d on the first node (placeholder address) with the job id as run id."""
    port = DEFAULT_C10D_PORT if spec.master_port is None else spec.master_port
    changes: dict = {"rdzv_backend": "c10d", "master_port": None, "master_addr": DEFAULT_MASTER_ADDR}
    if not spec.rdzv_endpoint:
        changes["rdzv_endpoint"] = f"{_SLURM_HOST}:{port}"
    if spec.rdzv_id == "none":
        changes["rdzv_id"] = _SLURM_ID
    if spec.standalone:
        changes = {}
    return dataclasses.replace(spec, **changes), port


def slurm_script(spec: LaunchSpec, options: ScriptOptions) -> str:
    """An sbatch script: one torchrun per node, c10d rendezvous on the first node, run id = job id."""
    _slurm_checks(spec, options)
    run_spec, port = slurm_spec(spec)
    nproc = spec.nprocs[0]
    variables = {_SLURM_HOST: "MASTER_ADDR", _SLURM_ID: "SLURM_JOB_ID"}
    argv = [_word_with_vars(w, variables) for w in torchrun_argv(run_spec, 0, launcher="")]
    shown = shlex.join(torchrun_argv(run_spec, 0, launcher="")).replace(_SLURM_HOST, "NODE0")
    shown = shown.replace(_SLURM_ID, "JOBID")
    what = [
        f"One torchrun per node ({spec.nnodes} node{'s' * (spec.max_nodes != 1)} × {nproc} workers), written by "
        "`simdist script --slurm`.",
        "srun starts exactly one task per node, whatever sbatch was given: `sbatch --ntasks-per-node=8` would",
        "otherwise start 8 torchruns per node, each with its workers (64 processes on 8 GPUs: 'Duplicate GPU').",
        "Every node runs:",
        f"  {' '.join(options.torchrun[0])} {shown}",
        "(NODE0: the allocation's first node, JOBID: the job id.) The workers' ranks and environment:",
        f"  simdist explain -- torchrun {shown}",
    ]
    lines = _sbatch_header(spec, options, 1, what)
    lines += [f"export {k}={_q(v)}" for k, v in sorted(launcher_env_for(spec, 0).items())]
    if options.ifnames:
        lines.append(f"IFNAME={_q(check_ifname(options.ifnames[0]))}")
    lines += _exports(options, "IFNAME" if options.ifnames else None)
    launcher = " ".join(_q(w) for w in options.torchrun[0])
    lines += [
        "",
        f'echo "$me: $nodes node(s), rendezvous at $MASTER_ADDR:{port}, run id $SLURM_JOB_ID" >&2',
        _srun(options, '"$nodes"', 1) + " \\",
        f"  {launcher} " + " ".join(argv),
        "",
    ]
    return "\n".join(lines)


def slurm_native_spec(spec: LaunchSpec) -> LaunchSpec:
    """The launch a --slurm-native job stands for (MASTER_ADDR: the first node, known at run time)."""
    port = spec.master_port if spec.master_port is not None else DEFAULT_MASTER_PORT
    return dataclasses.replace(spec, master_addr=_SLURM_HOST, master_port=port)


def slurm_native_script(spec: LaunchSpec, options: ScriptOptions) -> str:
    """An sbatch script without torchrun: one Slurm task per worker, ranks copied from SLURM_* variables."""
    _slurm_checks(spec, options)
    unsupported = {"--max-restarts": spec.max_restarts > 0, "--rdzv-backend c10d": spec.rdzv_backend != "static",
                   "--standalone": spec.standalone, "--virtual-local-rank": spec.virtual_local_rank,
                   "--rdzv-endpoint": bool(spec.rdzv_endpoint), "MIN:MAX --nnodes": spec.min_nodes != spec.max_nodes,
                   "--role": spec.role[0] != "default"}  # fmt: skip
    refused = [name for name, given in unsupported.items() if given]
    if refused:
        raise ConfigError(f"--slurm-native runs no torchrun, so it has no {', '.join(refused)}; use --slurm")
    nproc = spec.nprocs[0]
    port = spec.master_port if spec.master_port is not None else DEFAULT_MASTER_PORT
    program = list(spec.script)
    if spec.no_python:
        command = program
    elif spec.module:
        command = [*options.python, "-m", *program]
    else:
        command = [*options.python, *program]
    what = [
        f"One Slurm task per worker ({spec.nnodes} node{'s' * (spec.max_nodes != 1)} × {nproc}), no torchrun, "
        "written by `simdist script --slurm-native`.",
        "Each task copies its rank from Slurm: RANK=SLURM_PROCID, LOCAL_RANK=SLURM_LOCALID,",
        f"WORLD_SIZE=SLURM_NTASKS, LOCAL_WORLD_SIZE={nproc}, GROUP_RANK=SLURM_NODEID. --distribution=block keeps",
        "each node's ranks together, as torchrun numbers them; TORCHELASTIC_* and restarts do not exist here.",
        f"Check the layout: simdist explain --from slurm -- --nodes {spec.max_nodes} --ntasks-per-node {nproc} "
        "--distribution block",
    ]
    lines = _sbatch_header(spec, options, nproc, what)
    lines += [
        "export MASTER_ADDR",
        f"export MASTER_PORT={port}",
    ]
    lines += [f"export {k}={_q(v)}" for k, v in sorted(launcher_env_for(spec, 0).items())]
    if "OMP_NUM_THREADS" not in spec.env and nproc > 1:
        lines.append("export OMP_NUM_THREADS=1  # what torchrun would set with more than one worker per node")
    if options.ifnames:
        lines.append(f"IFNAME={_q(check_ifname(options.ifnames[0]))}")
    lines += _exports(options, "IFNAME" if options.ifnames else None)
    worker = (
        'export RANK="$SLURM_PROCID" LOCAL_RANK="$SLURM_LOCALID" WORLD_SIZE="$SLURM_NTASKS" '
        f'LOCAL_WORLD_SIZE={nproc} GROUP_RANK="$SLURM_NODEID"; exec "$@"'
    )
    lines += [
        "",
        f'echo "$me: $nodes node(s) × {nproc} tasks, MASTER_ADDR=$MASTER_ADDR:$MASTER_PORT" >&2',
        "# shellcheck disable=SC2016  # the single quotes are on purpose: each task expands its own SLURM_* values",
        _srun(options, f'"$((nodes * {nproc}))"', nproc, ["--distribution=block"]) + " \\",
        f"  bash -c {_q(worker)} simdist-task " + " ".join(_q(w) for w in command),
        "",
    ]
    return "\n".join(lines)
