"""Plan: the ranks, GPUs and environment torchrun gives every worker of a launch.

Pure arithmetic over a :class:`LaunchSpec`, following torch 2.13's
``SimpleElasticAgent._assign_worker_ranks`` (slow path: prefix sums of
LOCAL_WORLD_SIZE in group-rank order, per role for ROLE_RANK) and
``LocalElasticAgent._start_workers`` (the env dict). Nodes are computed eagerly
(O(nodes)); workers are produced on demand, so a 100,000-node plan stays cheap.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from ..documents._plan import GPU, PlanDocument, PlanNode, PlanWarning, PlanWorker
from ._commands import torchrun_command
from ._spec import LaunchSpec, RendezvousSetup, resolve_rendezvous

__all__ = ["NodePlan", "Plan", "PlanWarning", "WorkerPlan", "build_plan", "group_order", "node_plan", "worker_env"]



@dataclass(frozen=True, slots=True)
class NodePlan:
    """One machine: its torchrun agent and the workers it starts.

    ``node_rank`` is the machine's index (its ``--node-rank`` under static
    rendezvous); ``group_rank`` is the rank the rendezvous gave its agent.
    """

    node_rank: int
    group_rank: int
    host: str | None
    nproc: int
    role: str
    base_rank: int
    base_role_rank: int
    role_world_size: int
    world_size: int
    gpus: tuple[GPU | None, ...]  # physical GPU of each local rank (None: no such device)
    gpu_count: int  # GPUs the machine has (--gpus-per-node)
    visible_devices: str | None  # CUDA_VISIBLE_DEVICES in torchrun's environment
    hosts_store: bool  # static: node 0 hosts the TCPStore the others connect to

    @property
    def ranks(self) -> range:
        return range(self.base_rank, self.base_rank + self.nproc)

    @property
    def idle_gpus(self) -> tuple[int, ...]:
        used = {g for g in self.gpus if isinstance(g, int)}
        return tuple(g for g in range(self.gpu_count) if g not in used)


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """One worker process and the exact environment torchrun gives it."""

    rank: int
    local_rank: int
    group_rank: int
    node_rank: int
    role_rank: int
    gpu: GPU | None
    env: dict[str, str | None]  # None: only known at run time


def group_order(spec: LaunchSpec) -> tuple[int, ...]:
    """Machines (node indices) in group-rank order, as the rendezvous would decide.

    static: GROUP_RANK is ``--node-rank``, so the identity. c10d: agents are ranked by
    their sorted descriptor ``(addr, pid, local_id)``; with ``hosts`` known we sort by
    address (string order, as torch does) and, on one host, by node index as a
    stand-in for the pid order torch would use.
    """
    n = spec.max_nodes
    setup = resolve_rendezvous(spec)
    if setup.backend == "static" or spec.hosts is None:
        return tuple(range(n))
    hosts = spec.hosts
    return tuple(sorted(range(n), key=lambda i: (hosts[i], i)))


class _Workers(Sequence[WorkerPlan]):
    """All workers of a plan, by global rank, built on demand."""

    __slots__ = ("_plan",)

    def __init__(self, plan: Plan) -> None:
        self._plan = plan

    def __len__(self) -> int:
        return self._plan.world_size

    @overload
    def __getitem__(self, index: int) -> WorkerPlan: ...
    @overload
    def __getitem__(self, index: slice) -> list[WorkerPlan]: ...
    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        node = self._plan.node_of_rank(index)
        return self._plan._worker(node, index - node.base_rank)

    def __iter__(self) -> Iterator[WorkerPlan]:
        for node in self._plan.nodes_by_group_rank:
            for local_rank in range(node.nproc):
                yield self._plan._worker(node, local_rank)


class Plan:
    """The layout torchrun produces for a launch: per node and per worker."""

    def __init__(
        self,
        spec: LaunchSpec,
        rendezvous: RendezvousSetup,
        nodes: tuple[NodePlan, ...],
        restart_count: int,
        warnings: tuple[PlanWarning, ...] = (),
    ) -> None:
        self.spec = spec
        self.rendezvous = rendezvous
        self.nodes = nodes  # by machine index; only machines that are in the job
        self.nodes_by_group_rank = tuple(sorted(nodes, key=lambda n: n.group_rank))
        self._bases = [n.base_rank for n in self.nodes_by_group_rank]
        self.restart_count = restart_count
        self.world_size = sum(n.nproc for n in nodes)
        self.homogeneous = len({n.nproc for n in nodes}) <= 1
        self.workers: Sequence[WorkerPlan] = _Workers(self)
        self.warnings = warnings

    def with_warnings(self, warnings: tuple[PlanWarning, ...]) -> Plan:
        """The same layout, carrying ``warnings`` (plans are not changed once built)."""
        return Plan(self.spec, self.rendezvous, self.nodes, self.restart_count, warnings)

    # -- lookups ------------------------------------------------------------------

    def node(self, node_rank: int) -> NodePlan:
        """The machine with this index (``--node-rank``)."""
        for node in self.nodes:
            if node.node_rank == node_rank:
                return node
        raise KeyError(f"node {node_rank} is not part of this plan")

    def node_of_rank(self, rank: int) -> NodePlan:
        """The node a global rank runs on (binary search; ranks are contiguous per node)."""
        return self.nodes_by_group_rank[bisect.bisect_right(self._bases, rank) - 1]

    # -- environment ----------------------------------------------------------------

    def _worker(self, node: NodePlan, local_rank: int) -> WorkerPlan:
        setup = self.rendezvous
        env = worker_env(
            self.spec,
            node=node,
            local_rank=local_rank,
            group_world_size=len(self.nodes),
            master_addr=setup.master_addr,
            master_port=setup.master_port,
            run_id=setup.run_id,
            use_agent_store=setup.use_agent_store,
            restart_count=self.restart_count,
        )
        return WorkerPlan(
            rank=node.base_rank + local_rank,
            local_rank=local_rank,
            group_rank=node.group_rank,
            node_rank=node.node_rank,
            role_rank=node.base_role_rank + local_rank,
            gpu=node.gpus[local_rank],
            env=env,
        )

    # -- arithmetic, spelled out -------------------------------------------------------

    def rank_formula(self, worker: WorkerPlan) -> str:
        """``RANK = …`` with this launch's numbers, e.g. ``1 × 2 + 1`` or ``(2 + 1) + 0``."""
        node = self.node_of_rank(worker.rank)
        if self.spec.env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1":
            return f"{node.group_rank} × {node.nproc} + {worker.local_rank}"
        if self.homogeneous:
            return f"{node.group_rank} × {node.nproc} + {worker.local_rank}"
        lower = self.nodes_by_group_rank[: node.group_rank]
        if not lower:
            return f"0 + {worker.local_rank}"
        if len(lower) <= 4:
            return f"({' + '.join(str(n.nproc) for n in lower)}) + {worker.local_rank}"
        return f"Σ nproc[0..{node.group_rank - 1}] ({node.base_rank}) + {worker.local_rank}"

    # -- serialisation -------------------------------------------------------------------

    def document(self) -> PlanDocument:
        """The plan as the typed ``simdist.plan/1`` document every surface reads."""
        spec, setup = self.spec, self.rendezvous
        launch = {
            "nnodes": int(spec.nnodes) if spec.min_nodes == spec.max_nodes else spec.nnodes,
            "min_nodes": spec.min_nodes,
            "max_nodes": spec.max_nodes,
            "nproc_per_node": list(spec.nprocs),
            "node_rank": spec.node_rank,
            "master_addr": setup.master_addr,
            "master_port": setup.master_port,
            "rdzv_backend": setup.backend,
            "rdzv_mode": setup.mode,
            "rdzv_endpoint": setup.endpoint,
            "rdzv_id": setup.run_id,
            "max_restarts": spec.max_restarts,
            "use_agent_store": setup.use_agent_store,
            "rdzv_timeout": setup.timeout,
            "last_call_timeout": setup.last_call_timeout if setup.backend == "c10d" else None,
            "ignored": list(setup.ignored),
        }
        nodes = tuple(
            PlanNode(
                node_rank=n.node_rank, group_rank=n.group_rank, nproc=n.nproc, gpus=n.gpus, gpu_count=n.gpu_count,
                host=n.host, role=n.role, ranks=(n.base_rank, n.base_rank + n.nproc - 1), idle_gpus=n.idle_gpus,
                visible_devices=n.visible_devices, hosts_store=n.hosts_store, command=node_command(self, n),
            )  # fmt: skip
            for n in self.nodes
        )
        workers = tuple(
            PlanWorker(rank=w.rank, local_rank=w.local_rank, group_rank=w.group_rank, node_rank=w.node_rank,
                       gpu=w.gpu, env=w.env, role_rank=w.role_rank, formula=self.rank_formula(w))  # fmt: skip
            for w in self.workers
        )
        return PlanDocument(launch, self.world_size, nodes, workers, tuple(self.warnings), spec_to_dict(spec),
                            self.restart_count)  # fmt: skip

    def to_dict(self) -> dict:
        """The ``simdist.plan/1`` JSON document (complete, whatever the size)."""
        return self.document().to_dict()


def worker_env(
    spec: LaunchSpec,
    *,
    node: NodePlan,
    local_rank: int,
    group_world_size: int,
    master_addr: str | None,
    master_port: int | None,
    run_id: str | None,
    use_agent_store: bool,
    restart_count: int,
) -> dict[str, str | None]:
    """The environment torchrun gives one worker (``LocalElasticAgent._start_workers``).

    The one rule book for worker environments: plans and simulations both use it.
    ``None`` marks a value only known at run time.
    """
    launcher = spec.env
    env: dict[str, str | None] = {
        "RANK": str(node.base_rank + local_rank),
        "GROUP_RANK": str(node.group_rank),
        "ROLE_RANK": str(node.base_role_rank + local_rank),
        "ROLE_NAME": node.role,
        "LOCAL_WORLD_SIZE": str(node.nproc),
        "WORLD_SIZE": str(node.world_size),
        "GROUP_WORLD_SIZE": str(group_world_size),
        "ROLE_WORLD_SIZE": str(node.role_world_size),
        "MASTER_ADDR": master_addr,
        "MASTER_PORT": None if master_port is None else str(master_port),
        "TORCHELASTIC_RESTART_COUNT": str(restart_count),
        "TORCHELASTIC_MAX_RESTARTS": str(spec.max_restarts),
        "TORCHELASTIC_RUN_ID": run_id,
        "TORCHELASTIC_USE_AGENT_STORE": str(use_agent_store),
        "TORCH_NCCL_ASYNC_ERROR_HANDLING": launcher.get("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1"),
    }
    if spec.virtual_local_rank:
        env["LOCAL_RANK"] = "0"
        gpu = node.gpus[local_rank]
        env["CUDA_VISIBLE_DEVICES"] = None if gpu is None else str(gpu)
    else:
        env["LOCAL_RANK"] = str(local_rank)
        if node.visible_devices is not None:
            env["CUDA_VISIBLE_DEVICES"] = node.visible_devices
    if "OMP_NUM_THREADS" in launcher:
        env["OMP_NUM_THREADS"] = launcher["OMP_NUM_THREADS"]
    elif node.nproc > 1:
        env["OMP_NUM_THREADS"] = "1"  # run.py sets it (with a warning) when nproc > 1
    if "TORCHELASTIC_TIMER_FILE" in launcher:
        env["TORCHELASTIC_TIMER_FILE"] = launcher["TORCHELASTIC_TIMER_FILE"]
    elif launcher.get("TORCHELASTIC_ENABLE_FILE_TIMER") == "1":
        env["TORCHELASTIC_TIMER_FILE"] = None  # a temp path with a uuid
    # <log_dir>/<run_id>_<random>/attempt_<n>/<local_rank>/error.json; "" for os.devnull
    env["TORCHELASTIC_ERROR_FILE"] = "" if spec.log_dir == "/dev/null" else None
    env["TORCHELASTIC_SIGNALS_TO_HANDLE"] = spec.signals_to_handle
    return env


def spec_to_dict(spec: LaunchSpec) -> dict:
    """The spec's fields as JSON; ``LaunchSpec(**d)`` rebuilds it."""
    return {
        "nnodes": spec.nnodes,
        "nproc_per_node": list(spec.nprocs),
        "node_rank": spec.node_rank,
        "master_addr": spec.master_addr,
        "master_port": spec.master_port,
        "rdzv_backend": spec.rdzv_backend,
        "rdzv_endpoint": spec.rdzv_endpoint,
        "rdzv_id": spec.rdzv_id,
        "rdzv_conf": dict(spec.rdzv_conf),
        "standalone": spec.standalone,
        "max_restarts": spec.max_restarts,
        "role": list(spec.role),
        "gpus_per_node": None if spec.gpus_per_node is None else list(spec.gpus_per_node),
        "visible_devices": None if spec.visible_devices is None else list(spec.visible_devices),
        "hosts": None if spec.hosts is None else list(spec.hosts),
        "virtual_local_rank": spec.virtual_local_rank,
        "log_dir": spec.log_dir,
        "signals_to_handle": spec.signals_to_handle,
        "launcher_env": dict(spec.launcher_env),
        "script": list(spec.script),
        "module": spec.module,
        "no_python": spec.no_python,
    }


def _physical_gpus(spec: LaunchSpec, machine: int, nproc: int) -> tuple[tuple[GPU | None, ...], int, str | None]:
    """Which physical GPU each local rank uses on one machine, and how many it has.

    Without CUDA_VISIBLE_DEVICES local rank i uses GPU i; with it, the i-th listed one
    (what ``torch.cuda.set_device(LOCAL_RANK)`` selects). A rank past the end has none.
    """
    visible = None if spec.visible_devices is None else spec.visible_devices[machine]
    listed = None if visible is None else visible.split(",")
    if spec.gpus_per_node is not None:
        count = spec.gpus_per_node[machine]
    elif listed is not None:  # the machine has at least every GPU the variable names
        count = max([len(listed)] + [int(g) + 1 for g in listed if g.isdigit()])
    else:
        count = nproc
    if listed is None:
        return tuple(i if i < count else None for i in range(nproc)), count, visible
    gpus = tuple(_gpu_id(listed[i]) if i < len(listed) else None for i in range(nproc))
    return gpus, count, visible


def _gpu_id(text: str) -> GPU:
    return int(text) if text.isdigit() else text


def node_plan(
    spec: LaunchSpec,
    node: int,
    *,
    group_rank: int,
    host: str | None,
    base_rank: int,
    base_role_rank: int,
    role_world_size: int,
    world_size: int,
    hosts_store: bool = False,
    nproc: int | None = None,
) -> NodePlan:
    """One node's plan from the ranks its rendezvous gave it (``node`` indexes the spec's lists)."""
    nproc = spec.nprocs[node] if nproc is None else nproc
    gpus, count, visible = _physical_gpus(spec, node, nproc)
    return NodePlan(
        node_rank=node,
        group_rank=group_rank,
        host=host,
        nproc=nproc,
        role=spec.role[node],
        base_rank=base_rank,
        base_role_rank=base_role_rank,
        role_world_size=role_world_size,
        world_size=world_size,
        gpus=gpus,
        gpu_count=count,
        visible_devices=visible,
        hosts_store=hosts_store,
    )


def build_plan(
    spec: LaunchSpec,
    *,
    order: Sequence[int] | None = None,
    restart_count: int = 0,
    master_port: int | None = None,
) -> Plan:
    """The plan torchrun would produce, without the warnings (see :func:`make_plan`).

    ``order`` lists the machines that take part, in group-rank order (default: the
    rendezvous' own order, every machine). The simulator passes the order a
    rendezvous round decided, and ``master_port`` once a c10d store has one.
    """
    members = tuple(group_order(spec) if order is None else order)
    hosts = spec.hosts
    rank0_host = hosts[members[0]] if hosts is not None and members else None
    setup = resolve_rendezvous(spec, group_rank0_host=rank0_host)
    if master_port is not None and setup.backend == "c10d":
        setup = _replace_port(setup, master_port)
    nprocs, roles = spec.nprocs, spec.role
    identical = spec.env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1"
    group_size = len(members)

    world_size = sum(nprocs[m] for m in members)
    role_sizes: dict[str, int] = {}
    for m in members:
        role_sizes[roles[m]] = role_sizes.get(roles[m], 0) + nprocs[m]
    role_bases: dict[str, int] = {}
    bases = itertools.accumulate((nprocs[m] for m in members), initial=0)
    nodes: list[NodePlan] = []
    for group_rank, (machine, base) in enumerate(zip(members, bases, strict=False)):
        nproc, role = nprocs[machine], roles[machine]
        if identical:  # TORCH_ELASTIC_WORKER_IDENTICAL=1: torch skips the store and assumes equal nodes
            base = group_rank * nproc
            base_role, role_size, node_world = base, group_size * nproc, group_size * nproc
        else:
            base_role = role_bases.get(role, 0)
            role_size, node_world = role_sizes[role], world_size
        role_bases[role] = role_bases.get(role, 0) + nproc
        nodes.append(
            node_plan(
                spec,
                machine,
                group_rank=group_rank,
                host=None if hosts is None else hosts[machine],
                base_rank=base,
                base_role_rank=base_role,
                role_world_size=role_size,
                world_size=node_world,
                hosts_store=setup.backend == "static" and machine == 0,
            )
        )
    nodes.sort(key=lambda n: n.node_rank)
    return Plan(spec, setup, tuple(nodes), restart_count)


def _replace_port(setup: RendezvousSetup, port: int) -> RendezvousSetup:
    return dataclasses.replace(setup, master_port=port)


def node_command(plan: Plan, node: NodePlan) -> str:
    """The exact command to paste on that machine."""
    return torchrun_command(plan.spec, node.node_rank)
