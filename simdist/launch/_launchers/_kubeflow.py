"""Kubeflow's PyTorchJob: the variables the training operator puts in each pod, and what runs.

Rules from kubeflow/training-operator (``pkg/controller.v1/pytorch/envvar.go``, ``master.go``,
``elastic.go``; ``pkg/apis/kubeflow.org/v1/pytorch_defaults.go``, ``pytorch_types.go``):

- pods are ``<job>-master-0`` and ``<job>-worker-<i>``; with a Master, every pod gets
  ``MASTER_ADDR=<job>-master-0``, ``MASTER_PORT`` (the ``pytorchjob-port``, 23456 by
  default), ``RANK`` (master 0, worker i → i+1) and ``WORLD_SIZE``;
- v1.5–v1.6: ``WORLD_SIZE`` is the number of **pods**; no ``PET_*`` unless an
  ``elasticPolicy`` is given; ``PYTHONUNBUFFERED=0``;
- v1.7+: ``WORLD_SIZE = pods × nprocPerNode`` where a non-number (the default ``auto``)
  counts as 1; ``PET_NODE_RANK`` = ``RANK``, ``PET_MASTER_ADDR``/``PET_MASTER_PORT``,
  ``PET_NNODES`` = pods; ``PET_NPROC_PER_NODE`` = ``nprocPerNode`` (v1.7: only with a
  Master); ``PYTHONUNBUFFERED=1``;
- ``elasticPolicy``: ``PET_RDZV_ENDPOINT=<job>-worker-0:<port>``, ``PET_RDZV_BACKEND``
  (c10d), ``PET_NNODES=min:max`` (both default to the worker replicas),
  ``PET_MAX_RESTARTS``, ``PET_NPROC_PER_NODE`` from ``elasticPolicy.nProcPerNode``.

torchrun in a pod reads ``PET_*`` as its option defaults (``torch.distributed.argparse_util``);
a plain ``python train.py`` uses ``RANK``/``WORLD_SIZE`` as the operator set them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence

from ..._errors import ConfigError
from .._make import make_plan
from .._spec import LaunchSpec
from .._torchrun_args import spec_from_command
from ._model import LauncherLayout, LauncherProcess, Parser, layout_from_plan, positive

__all__ = ["OPERATOR_VERSIONS", "kubeflow_layout", "pod_env"]

OPERATOR_VERSIONS = ("1.5", "1.6", "1.7", "1.8", "1.9")
DEFAULT_PORT = 23456  # PyTorchJobDefaultPort
_POD_COLUMNS = (("RANK", "pod's RANK\n(operator)"), ("WORLD_SIZE", "pod's\nWORLD_SIZE\n(operator)"))
SOURCES = (
    "kubeflow/training-operator v1.9.0 pkg/controller.v1/pytorch/envvar.go (setPodEnv), master.go, elastic.go; "
    "pkg/apis/kubeflow.org/v1/pytorch_defaults.go (nprocPerNode defaults to auto, elastic min/max default to "
    "the worker replicas)",
    "kubeflow/training-operator v1.6.0 and v1.7.0 envvar.go: WORLD_SIZE = pods before v1.7, pods × nprocPerNode "
    "(non-numbers count 1) since",
    "torch 2.13 torch/distributed/argparse_util.py: torchrun reads PET_<OPTION> as each option's default",
)


def _parser() -> Parser:
    parser = Parser("kubeflow")
    parser.add_argument("--master-replicas")
    parser.add_argument("--worker-replicas", default="1")
    parser.add_argument("--nproc-per-node")
    parser.add_argument("--operator", default="1.9")
    parser.add_argument("--name", default="pytorch-job")
    parser.add_argument("--port", default=str(DEFAULT_PORT))
    parser.add_argument("--gpus-per-node")
    parser.add_argument("--elastic", action="store_true")
    parser.add_argument("--min-replicas")
    parser.add_argument("--max-replicas")
    parser.add_argument("--rdzv-backend")
    parser.add_argument("--rdzv-host")
    parser.add_argument("--rdzv-port")
    parser.add_argument("--rdzv-id")
    parser.add_argument("--max-restarts")
    parser.add_argument("--elastic-nproc-per-node")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def _version(text: str) -> tuple[int, int]:
    cleaned = text.lstrip("v")
    parts = cleaned.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise ConfigError(f"kubeflow: --operator {text!r} is not a version like 1.9 or v1.6.0") from None
    if (major, minor) < (1, 5) or (major, minor) > (1, 9):
        raise ConfigError(f"kubeflow: --operator {text}: simdist knows the v1 operator from 1.5 to 1.9")
    return major, minor


def pod_env(ns, version: tuple[int, int], pod_type: str, index: int) -> dict[str, str]:
    """The variables the operator adds to one pod's container (``setPodEnv``), in its order."""
    masters, workers = int(ns.master_replicas), int(ns.worker_replicas)
    total = masters + workers
    env = {"PYTHONUNBUFFERED": "0" if version <= (1, 6) else "1"}
    nproc = ns.nproc_per_node
    if version >= (1, 7) and nproc is None and not (ns.elastic_on and ns.elastic_nproc_per_node is not None):
        nproc = "auto"  # setDefaultNprocPerNode
    if masters:
        port = str(ns.port)
        addr = f"{ns.name}-master-0"
        env["MASTER_PORT"] = port
        if version >= (1, 7):
            env["PET_MASTER_PORT"] = port
        env["MASTER_ADDR"] = addr
        if version >= (1, 7):
            env["PET_MASTER_ADDR"] = addr
        rank = index + (1 if pod_type == "worker" else 0)
        if version <= (1, 6):
            env["WORLD_SIZE"] = str(total)
        else:
            env["WORLD_SIZE"] = str(total * (int(nproc) if nproc is not None and nproc.isdigit() else 1))
        env["RANK"] = str(rank)
        if version == (1, 7) and nproc is not None:
            env["PET_NPROC_PER_NODE"] = nproc
        if version >= (1, 7):
            env["PET_NODE_RANK"] = str(rank)
    if version >= (1, 8) and nproc is not None:
        env["PET_NPROC_PER_NODE"] = nproc
    if ns.elastic_on:
        host = ns.rdzv_host or f"{ns.name}-worker-0"
        env["PET_RDZV_ENDPOINT"] = f"{host}:{ns.rdzv_port or ns.port}"
        env["PET_RDZV_BACKEND"] = ns.rdzv_backend or "c10d"
        low = ns.min_replicas or ns.max_replicas or str(workers)
        high = ns.max_replicas or ns.min_replicas or str(workers)
        env["PET_NNODES"] = f"{low}:{high}"
        if ns.max_restarts is not None:
            env["PET_MAX_RESTARTS"] = str(ns.max_restarts)
        if ns.elastic_nproc_per_node is not None:
            env["PET_NPROC_PER_NODE"] = str(ns.elastic_nproc_per_node)
        if ns.rdzv_id is not None:
            env["PET_RDZV_ID"] = ns.rdzv_id
    elif version >= (1, 7):
        env["PET_NNODES"] = str(total)
    return env


def kubeflow_layout(argv: Sequence[str]) -> LauncherLayout:
    """The pods of a PyTorchJob and the processes in them (options after ``--from kubeflow --``)."""
    ns = _parser().parse_args(list(argv))
    version = _version(ns.operator)
    if ns.master_replicas is None:  # elastic jobs usually have Workers only (the operator's echo example)
        ns.master_replicas = "0" if (ns.elastic or ns.min_replicas or ns.max_replicas) else "1"
    masters = positive("--master-replicas", ns.master_replicas, 0)
    workers = positive("--worker-replicas", ns.worker_replicas, 0)
    if masters > 1:
        raise ConfigError("kubeflow: a PyTorchJob has at most one Master replica")
    ns.elastic_on = ns.elastic or any(
        v is not None for v in (ns.min_replicas, ns.max_replicas, ns.rdzv_backend, ns.rdzv_host, ns.rdzv_port,
                                 ns.rdzv_id, ns.max_restarts, ns.elastic_nproc_per_node))  # fmt: skip
    if ns.elastic_on and not workers:
        raise ConfigError("kubeflow: an elasticPolicy needs Worker replicas (cannot find the worker spec)")
    if ns.nproc_per_node is not None and version <= (1, 6):
        raise ConfigError(f"kubeflow: spec.nprocPerNode arrived in operator v1.7; v{ns.operator} has no such field")
    if masters + workers == 0:
        raise ConfigError("kubeflow: the job has no pods (--master-replicas 0 --worker-replicas 0)")
    positive("--port", ns.port)
    pods = [("master", 0)] * masters + [("worker", i) for i in range(workers)]
    names = [f"{ns.name}-{kind}-{i}" for kind, i in pods]
    envs = [pod_env(ns, version, kind, i) for kind, i in pods]
    command = list(ns.command) or ["torchrun", "train.py"]
    head = os.path.basename(command[0])
    runs_torchrun = head == "torchrun" or (head.startswith("python") and command[1:3] == ["-m", "torch.distributed.run"])
    gpus = positive("--gpus-per-node", ns.gpus_per_node) if ns.gpus_per_node is not None else None
    where = f"operator v{version[0]}.{version[1]}"
    if runs_torchrun:
        return _torchrun_pods(ns, argv, command, names, envs, gpus, where)
    return _plain_pods(argv, command, names, envs, where)


def _torchrun_pods(ns, argv, command, names, envs, gpus, where) -> LauncherLayout:
    notes = []
    specs = [_pod_spec(command, env, gpus) for env in envs]
    if specs[0].max_nodes == len(names):  # the pods are the machines (c10d ranks agents by their names)
        specs = [dataclasses.replace(spec, hosts=tuple(names)) for spec in specs]
    first = specs[0]
    for name, spec in zip(names, specs, strict=True):
        if (spec.nnodes, spec.nprocs, spec.rdzv_backend) != (first.nnodes, first.nprocs, first.rdzv_backend):
            raise ConfigError(f"kubeflow: {name} runs a different torchrun launch than {names[0]}")
    if first.max_nodes == 1 and len(names) > 1:
        return _separate_jobs(ns, argv, names, envs, first, where)
    if first.max_nodes != len(names) and first.rdzv_backend == "static":
        raise ConfigError(f"kubeflow: PET_NNODES={first.nnodes} but the job has {len(names)} pods")
    plan = make_plan(first)
    if plan.rendezvous.backend == "c10d" and first.hosts is not None and list(first.hosts) != sorted(first.hosts):
        notes.append(
            "c10d numbers the agents in its own order, not by pod index; simdist sorts them by pod name, as torch "
            "sorts agents by address (so worker-10 comes before worker-2)"
        )
    operator_world = envs[0].get("WORLD_SIZE")
    if operator_world is not None and operator_world != str(plan.world_size):
        notes.append(
            f"the operator sets WORLD_SIZE={operator_world} in every pod ({_why(ns, where)}); torchrun replaces it: "
            f"its workers see WORLD_SIZE={plan.world_size}. Only code that reads WORLD_SIZE outside the workers "
            "sees the operator's value"
        )

    def launcher_env(node, worker):
        return dict(envs[node.node_rank])

    pet = {k: v for k, v in envs[0].items() if k.startswith("PET_")}
    summary = (f"PyTorchJob ({where}): {len(names)} pod{'s' * (len(names) != 1)} running torchrun, "
               f"{plan.world_size} workers; pod 0 has " + (" ".join(f"{k}={v}" for k, v in pet.items()) or "no PET_*"))  # fmt: skip
    mapping = (
        ("--nnodes", "PET_NNODES"),
        ("--nproc-per-node", "PET_NPROC_PER_NODE (auto: the pod's GPUs)"),
        ("--node-rank", "PET_NODE_RANK (= the pod's RANK)"),
        ("--master-addr/--master-port", "PET_MASTER_ADDR/PET_MASTER_PORT"),
        ("RANK, WORLD_SIZE…", "torchrun's (it replaces the operator's RANK and WORLD_SIZE)"),
    )
    return layout_from_plan(
        plan, launcher="kubeflow", command=argv, summary=summary, mapping=mapping,
        columns=_POD_COLUMNS, launcher_env_of=launcher_env, notes=notes, sources=SOURCES,
    )  # fmt: skip


def _separate_jobs(ns, argv, names, envs, spec, where) -> LauncherLayout:
    """No PET_NNODES: torchrun in every pod starts its own one-machine job."""
    plan = make_plan(dataclasses.replace(spec, hosts=(names[0],)))
    nproc = plan.world_size
    processes = []
    for node, (name, env) in enumerate(zip(names, envs, strict=True)):
        for worker in plan.workers:
            torch_env = {k: worker.env.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                                                        "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT")}  # fmt: skip
            processes.append(
                LauncherProcess(
                    rank=worker.rank, local_rank=worker.local_rank, node=node, host=name, order=worker.local_rank,
                    world_size=nproc, local_world_size=nproc, gpu=worker.gpu, launcher_env=dict(env),
                    torch_env=torch_env, torchrun_rank=node * nproc + worker.local_rank,
                    torchrun_local_rank=worker.local_rank,
                )
            )  # fmt: skip
    notes = [
        f"{where} sets no PET_NNODES here: torchrun in each of the {len(names)} pods defaults to --nnodes=1, so every "
        f"pod runs its own one-machine job of {nproc} worker{'s' * (nproc != 1)} (RANK 0 in every pod); pass "
        "--nnodes, --node-rank, --master-addr and --master-port in the command",
    ]
    if "WORLD_SIZE" in envs[0]:
        notes.append(f"the operator's WORLD_SIZE={envs[0]['WORLD_SIZE']} ({_why(ns, where)}) is replaced by "
                     f"torchrun's WORLD_SIZE={nproc} in each pod")  # fmt: skip
    equivalent = dataclasses.replace(spec, nnodes=len(names), nproc_per_node=spec.nprocs[0], hosts=tuple(names),
                                     master_addr=names[0], master_port=int(ns.port), node_rank=None)  # fmt: skip
    summary = (f"PyTorchJob ({where}): {len(names)} pods, each running its own one-machine torchrun job "
               f"(no PET_NNODES)")  # fmt: skip
    mapping = (("--nnodes", "(not set: 1)"), ("--node-rank", "(not set: 0)"), ("RANK, WORLD_SIZE…", "torchrun's, per pod"))
    return LauncherLayout(
        launcher="kubeflow", command=tuple(argv), summary=summary, mapping=mapping, columns=_POD_COLUMNS,
        torch_columns=("RANK", "LOCAL_RANK", "WORLD_SIZE"),
        hosts=tuple(names), processes=tuple(processes), equivalent=equivalent, notes=tuple(notes), sources=SOURCES,
    )  # fmt: skip


def _pod_spec(command, env, gpus):
    """What torchrun makes of its command line in one pod (PET_* are its defaults)."""
    if env.get("PET_RDZV_BACKEND", "static") != "static" and "PET_NODE_RANK" in env:
        env = {k: v for k, v in env.items() if k != "PET_NODE_RANK"}  # c10d ignores --node-rank
    return spec_from_command(command, environ=env, gpus_per_node=gpus)


def _one_pod(spec, name):
    return dataclasses.replace(spec, hosts=(name,))


def _why(ns, where: str) -> str:
    if where.endswith(("1.5", "1.6")):
        return "the number of pods"
    nproc = ns.nproc_per_node or "auto"
    if not nproc.isdigit():
        return f"pods × 1, because nprocPerNode is {nproc!r}, which is not a number"
    return f"pods × nprocPerNode {nproc}"


def _plain_pods(argv, command, names, envs, where) -> LauncherLayout:
    notes = []
    if "RANK" not in envs[0]:
        raise ConfigError(
            "kubeflow: without a Master replica the operator sets no RANK or WORLD_SIZE, so a plain "
            f"{command[0]!r} cannot join a process group; run torchrun in the pods"
        )
    world = int(envs[0]["WORLD_SIZE"])
    processes = []
    for node, (name, env) in enumerate(zip(names, envs, strict=True)):
        rank = int(env["RANK"])
        torch_env = {"RANK": env["RANK"], "LOCAL_RANK": None, "WORLD_SIZE": env["WORLD_SIZE"],
                     "LOCAL_WORLD_SIZE": None, "GROUP_RANK": None, "MASTER_ADDR": env["MASTER_ADDR"],
                     "MASTER_PORT": env["MASTER_PORT"]}  # fmt: skip
        processes.append(
            LauncherProcess(
                rank=rank, local_rank=0, node=node, host=name, order=0, world_size=world, local_world_size=1,
                gpu=0, launcher_env=dict(env), torch_env=torch_env, torchrun_rank=node,
                torchrun_local_rank=0,
            )
        )  # fmt: skip
    if world != len(names):
        notes.append(
            f"WORLD_SIZE={world} but only {len(names)} processes exist (one per pod): init_process_group waits for "
            f"ranks {len(names)}..{world - 1}, which never come. Run torchrun in the pods, or set nprocPerNode to 1"
        )
    notes.append("LOCAL_RANK is not set: a plain process in a pod must pick its GPU itself (usually 0)")
    script = command[1:] if os.path.basename(command[0]).startswith("python") and len(command) > 1 else command
    equivalent = LaunchSpec(nnodes=len(names), nproc_per_node=1, master_addr=envs[0]["MASTER_ADDR"],
                            master_port=int(envs[0]["MASTER_PORT"]), script=tuple(script))  # fmt: skip
    summary = f"PyTorchJob ({where}): {len(names)} pods, one plain process each ({command[0]}), WORLD_SIZE={world}"
    mapping = (
        ("RANK", "RANK (the operator's: master 0, worker i → i+1)"),
        ("WORLD_SIZE", "WORLD_SIZE (the operator's)"),
        ("LOCAL_RANK", "(not set)"),
        ("MASTER_ADDR/MASTER_PORT", f"<job>-master-0 / the pytorchjob-port ({envs[0]['MASTER_PORT']})"),
    )
    return LauncherLayout(
        launcher="kubeflow", command=tuple(argv), summary=summary, mapping=mapping, columns=_POD_COLUMNS,
        torch_columns=("RANK", "LOCAL_RANK", "WORLD_SIZE"),
        hosts=tuple(names), processes=tuple(processes), equivalent=equivalent, notes=tuple(notes), sources=SOURCES,
    )  # fmt: skip
