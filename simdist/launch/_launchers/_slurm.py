"""Slurm's ``srun``: which task runs where, and the SLURM_* variables each task gets.

Rules from Slurm 22.05 (Debian 12's ``slurm-wlm`` 22.05.8; unchanged in 25.11):

- ``srun(1)``, ``--distribution``: *block* is the default when there are more tasks than
  nodes, *cyclic* otherwise; variables ``SLURM_PROCID`` (the task's rank),
  ``SLURM_LOCALID`` (its index on the node), ``SLURM_NODEID`` (the node's index in the
  step), ``SLURM_NTASKS``, ``SLURM_STEP_TASKS_PER_NODE`` (``2(x3),1`` form).
- ``src/common/slurm_step_layout.c``: ``_task_layout_block`` counts tasks per node with a
  "fake cyclic" pass over each node's CPUs (capped by ``--ntasks-per-node``) and then
  numbers them node after node; ``_task_layout_cyclic`` deals tasks round-robin to the
  nodes that still have CPUs, oversubscribing evenly once all are used.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..._errors import ConfigError
from .._spec import LaunchSpec
from ._model import LauncherLayout, LauncherProcess, Parser, expand_hostlist, positive, torchrun_places

__all__ = ["slurm_layout", "slurm_task_layout", "tasks_per_node_text"]

SOURCES = (
    "Slurm 22.05 srun(1): --distribution (block is the default when tasks > nodes, else cyclic) and "
    "OUTPUT ENVIRONMENT VARIABLES (SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID, SLURM_NTASKS, "
    "SLURM_STEP_TASKS_PER_NODE)",
    "Slurm 22.05 src/common/slurm_step_layout.c: _task_layout_block, _task_layout_cyclic",
)


def _parser() -> Parser:
    parser = Parser("srun")
    parser.add_argument("-N", "--nodes")
    parser.add_argument("-n", "--ntasks")
    parser.add_argument("--ntasks-per-node")
    parser.add_argument("-m", "--distribution")
    parser.add_argument("-c", "--cpus-per-task")
    parser.add_argument("-w", "--nodelist")
    parser.add_argument("--cpus-per-node")  # simdist's: the CPUs the allocation has on each node
    for name in ("-p", "--partition"), ("-t", "--time"), ("-J", "--job-name"), ("-o", "--output"), \
            ("-e", "--error"), ("-A", "--account"), ("-C", "--constraint"):  # fmt: skip
        parser.ignore(*name)
    for name in ("--mem", "--mem-per-cpu", "--mem-per-gpu", "--gres", "--gpus", "--gpus-per-node",
                 "--gpus-per-task", "--qos", "--cpu-bind", "--export", "--mpi", "--reservation",
                 "--gpu-bind", "--chdir", "--signal"):  # fmt: skip
        parser.ignore(name)
    for name in ("--exclusive", "--kill-on-bad-exit", "-l", "--label", "--unbuffered", "-u", "--wait-all-nodes"):
        parser.ignore(name, flag=True)
    parser.add_argument("program", nargs=argparse.REMAINDER)
    return parser


def tasks_per_node_text(counts: Sequence[int]) -> str:
    """``SLURM_TASKS_PER_NODE``'s compressed form: ``[2, 2, 2, 1]`` → ``2(x3),1``."""
    parts, i = [], 0
    while i < len(counts):
        j = i
        while j < len(counts) and counts[j] == counts[i]:
            j += 1
        parts.append(str(counts[i]) + (f"(x{j - i})" if j - i > 1 else ""))
        i = j
    return ",".join(parts)


def slurm_task_layout(ntasks: int, cpus: Sequence[int], distribution: str, pack: bool = False) -> list[list[int]]:
    """Task ids on each node, as Slurm's step layout numbers them.

    ``cpus[i]`` is the number of tasks node i can hold without oversubscribing (its CPUs
    divided by ``--cpus-per-task``, capped by ``--ntasks-per-node``).
    """
    nodes = len(cpus)
    if distribution == "cyclic":
        return _cyclic(ntasks, cpus)
    counts = [0] * nodes
    placed = 0
    if pack:  # SLURM_DIST_PACK_NODES: one task each, then fill node by node, then spread
        for i in range(nodes):
            if placed < ntasks and counts[i] < cpus[i]:
                counts[i] += 1
                placed += 1
        for i in range(nodes):
            while placed < ntasks and counts[i] < cpus[i]:
                counts[i] += 1
                placed += 1
        while placed < ntasks:
            for i in range(nodes):
                if placed < ntasks:
                    counts[i] += 1
                    placed += 1
    else:  # "fake a cyclic distribution to determine how many tasks go on each node"
        over_subscribe, j = False, 0
        while placed < ntasks:
            space_remaining = False
            for i in range(nodes):
                if placed < ntasks and (j < cpus[i] or over_subscribe):
                    counts[i] += 1
                    placed += 1
                    if j + 1 < cpus[i]:
                        space_remaining = True
            if not space_remaining:
                over_subscribe = True
            j += 1
    layout, task = [], 0
    for count in counts:
        layout.append(list(range(task, task + count)))
        task += count
    return layout


def _cyclic(ntasks: int, cpus: Sequence[int]) -> list[list[int]]:
    nodes = len(cpus)
    layout: list[list[int]] = [[] for _ in range(nodes)]
    total = sum(cpus)
    over_subscribe, max_over = False, 0
    if total < ntasks:
        over_subscribe = True
        max_over = -(-(ntasks - total) // nodes)
    task, j = 0, 0
    while task < ntasks:
        space_remaining = False
        for i in range(nodes):
            if task < ntasks and (j < cpus[i] or (over_subscribe and j < cpus[i] + max_over)):
                layout[i].append(task)
                task += 1
                if j + 1 < cpus[i]:
                    space_remaining = True
        if not space_remaining:
            over_subscribe = True
        j += 1
    return layout


def _per_node_ints(name: str, text: str, nodes: int) -> list[int]:
    values = [positive(name, v) for v in text.split(",")]
    if len(values) == 1:
        return values * nodes
    if len(values) != nodes:
        raise ConfigError(f"{name} lists {len(values)} values but the job has {nodes} nodes")
    return values


def slurm_layout(argv: Sequence[str]) -> LauncherLayout:
    """The tasks ``srun [OPTIONS] program`` starts (a leading ``srun`` or ``sbatch`` word is skipped)."""
    words = list(argv)
    if words and words[0] in ("srun", "sbatch"):
        words = words[1:]
    ns = _parser().parse_args(words)
    hosts = expand_hostlist(ns.nodelist) if ns.nodelist else None
    if ns.nodes is not None and "-" in str(ns.nodes):
        raise ConfigError(f"srun: --nodes {ns.nodes}: a range is decided at allocation time; give the node count the job got")
    per_node = positive("--ntasks-per-node", ns.ntasks_per_node) if ns.ntasks_per_node is not None else None
    ntasks = positive("--ntasks", ns.ntasks) if ns.ntasks is not None else None
    if ns.nodes is not None:
        nodes = positive("--nodes", ns.nodes)
    elif hosts is not None:
        nodes = len(hosts)
    elif ntasks is not None and per_node is not None:
        nodes = -(-ntasks // per_node)
    else:
        raise ConfigError("srun: give --nodes (or --nodelist, or --ntasks with --ntasks-per-node)")
    if hosts is not None and len(hosts) != nodes:
        raise ConfigError(f"srun: --nodelist names {len(hosts)} hosts but --nodes is {nodes}")
    if ntasks is None:
        ntasks = nodes * (per_node or 1)
    notes = []
    if per_node is not None and ntasks > nodes * per_node:
        raise ConfigError(
            f"srun: --ntasks {ntasks} does not fit on {nodes} nodes with --ntasks-per-node {per_node}: "
            "Slurm refuses the request"
        )
    if nodes > ntasks:
        notes.append(f"{nodes} nodes for {ntasks} tasks: srun warns and runs on {ntasks} nodes")
        nodes = ntasks
        hosts = hosts[:nodes] if hosts else None
    cpt = positive("--cpus-per-task", ns.cpus_per_task) if ns.cpus_per_task is not None else 1
    if ns.cpus_per_node is not None:
        cpus = [max(c // cpt, 1) for c in _per_node_ints("--cpus-per-node", ns.cpus_per_node, nodes)]
    else:
        cpus = [ntasks] * nodes  # the allocation has room for every task on every node
        if per_node is None:
            notes.append(
                "assumed each node's allocation holds all its tasks; where CPUs run short, add --cpus-per-node "
                "(what the allocation has) and see how Slurm moves tasks"
            )
    if per_node is not None:
        cpus = [min(c, per_node) for c in cpus]  # Slurm caps a node's CPUs at --ntasks-per-node
    distribution, pack = _distribution(ns.distribution, ntasks, nodes)
    layout = slurm_task_layout(ntasks, cpus, distribution, pack)
    hosts = tuple(hosts) if hosts else tuple(f"node{i}" for i in range(nodes))
    counts = [len(tasks) for tasks in layout]
    places = torchrun_places(counts)
    text = tasks_per_node_text(counts)
    processes = []
    for node, tasks in enumerate(layout):
        for local, task in enumerate(tasks):
            env = {
                "SLURM_PROCID": str(task),
                "SLURM_LOCALID": str(local),
                "SLURM_NODEID": str(node),
                "SLURM_NTASKS": str(ntasks),
                "SLURM_NNODES": str(nodes),
                "SLURM_STEP_TASKS_PER_NODE": text,
                "SLURMD_NODENAME": hosts[node],
            }
            torch_env = {"RANK": str(task), "LOCAL_RANK": str(local), "WORLD_SIZE": str(ntasks),
                         "LOCAL_WORLD_SIZE": str(len(tasks)), "GROUP_RANK": str(node)}  # fmt: skip
            processes.append(
                LauncherProcess(
                    rank=task, local_rank=local, node=node, host=hosts[node], order=local, world_size=ntasks,
                    local_world_size=len(tasks), gpu=local, launcher_env=env, torch_env=torch_env,
                    torchrun_rank=places[node][local][0], torchrun_local_rank=local,
                )
            )  # fmt: skip
    processes.sort(key=lambda p: p.rank)
    if distribution == "cyclic" and any(not p.same_as_torchrun for p in processes):
        notes.append(
            "cyclic: consecutive ranks sit on different nodes, so RANK // LOCAL_WORLD_SIZE is not the node "
            "and no torchrun launch gives these ranks (torchrun numbers node after node)"
        )
    if len(set(counts)) > 1:
        notes.append(f"uneven: {text} tasks per node — a script that assumes RANK = node × n + local is wrong here")
    equivalent = LaunchSpec(nnodes=nodes, nproc_per_node=counts, master_addr=hosts[0], master_port=29500,
                            script=tuple(ns.program) or ("train.py",))  # fmt: skip
    summary = f"srun: {ntasks} task{'s' * (ntasks != 1)} on {nodes} node{'s' * (nodes != 1)}, {distribution} distribution"
    summary += f" ({'given' if ns.distribution else 'Slurm default: ' + ('tasks > nodes' if ntasks > nodes else 'tasks ≤ nodes')})"
    mapping = (
        ("RANK", "SLURM_PROCID"),
        ("LOCAL_RANK", "SLURM_LOCALID"),
        ("WORLD_SIZE", "SLURM_NTASKS"),
        ("LOCAL_WORLD_SIZE", "SLURM_STEP_TASKS_PER_NODE at SLURM_NODEID"),
        ("GROUP_RANK", "SLURM_NODEID"),
        ("MASTER_ADDR", 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1 (Slurm sets none)'),
    )
    return LauncherLayout(
        launcher="slurm", command=tuple(argv), summary=summary, mapping=mapping,
        columns=(("SLURM_PROCID", "SLURM_PROCID\n→ RANK"), ("SLURM_LOCALID", "SLURM_LOCALID\n→ LOCAL_RANK"),
                 ("SLURM_NODEID", "SLURM_NODEID\n→ GROUP_RANK"), ("SLURM_NTASKS", "SLURM_NTASKS\n→ WORLD_SIZE")),
        torch_columns=("LOCAL_WORLD_SIZE",), hosts=hosts, processes=tuple(processes),
        equivalent=equivalent, notes=tuple(notes), sources=SOURCES,
    )  # fmt: skip


def _distribution(text: str | None, ntasks: int, nodes: int) -> tuple[str, bool]:
    if text is None or text.split(":")[0].split(",")[0] in ("", "*"):
        pack = bool(text and "pack" in text.lower().split(",")[1:])
        return ("block" if ntasks > nodes else "cyclic"), pack
    head, *flags = text.split(",")
    node_level = head.split(":")[0]
    pack = any(f.lower() == "pack" for f in flags)
    if node_level in ("block", "cyclic"):
        return node_level, pack
    if node_level.startswith("plane"):
        raise ConfigError("srun: --distribution plane is not modelled by simdist (block and cyclic are)")
    if node_level == "arbitrary":
        raise ConfigError("srun: --distribution arbitrary follows SLURM_HOSTFILE, which simdist does not read")
    raise ConfigError(f"srun: unknown --distribution {text!r}: expected block, cyclic, plane=N or arbitrary")
