"""The plan as a document: ``simdist.plan/1``, typed.

:class:`PlanDocument` is what every surface reads — the rank map, a trace's plan (the
env each worker really received), a report's prediction. It is built from a computed
:class:`simdist.launch.Plan` (``plan.document()``) or read back from JSON
(:meth:`PlanDocument.from_dict`), and writes the same JSON either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._validate import check_keys, check_list

__all__ = ["PLAN_SCHEMA", "GPU", "PlanDocument", "PlanNode", "PlanWarning", "PlanWorker", "job_summary"]

PLAN_SCHEMA = "simdist.plan/1"
GPU = int | str  # a physical GPU: an index, or a UUID/MIG name from CUDA_VISIBLE_DEVICES

_NODE_KEYS = ("node_rank", "group_rank", "nproc", "gpus", "gpu_count")
_WORKER_KEYS = ("rank", "local_rank", "group_rank", "node_rank", "gpu")
_PLAN_KEYS = ("launch", "world_size", "nodes", "workers")


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something torchrun will do that the user probably did not mean."""

    code: str
    message: str
    node: int | None = None
    level: Literal["warning", "note"] = "warning"

    def to_dict(self) -> dict:
        data = {"code": self.code, "message": self.message, "level": self.level}
        if self.node is not None:
            data["node"] = self.node
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanWarning:
        return cls(str(data.get("code", "")), str(data.get("message", "")), data.get("node"),
                   "note" if data.get("level") == "note" else "warning")  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlanNode:
    """One machine of the plan, as the document states it."""

    node_rank: int
    group_rank: int
    nproc: int
    gpus: tuple[GPU | None, ...]  # physical GPU of each local rank (None: no such device)
    gpu_count: int
    host: str | None = None
    role: str = "default"
    ranks: tuple[int, int] | None = None  # first and last RANK (None: no workers)
    idle_gpus: tuple[int, ...] = ()
    visible_devices: str | None = None
    hosts_store: bool = False
    command: str | None = None

    def to_dict(self) -> dict:
        return {
            "node_rank": self.node_rank,
            "group_rank": self.group_rank,
            "host": self.host,
            "nproc": self.nproc,
            "role": self.role,
            "ranks": None if self.ranks is None else list(self.ranks),
            "gpus": list(self.gpus),
            "gpu_count": self.gpu_count,
            "idle_gpus": list(self.idle_gpus),
            "visible_devices": self.visible_devices,
            "hosts_store": self.hosts_store,
            "command": self.command,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanNode:
        ranks = data.get("ranks")
        return cls(
            node_rank=data["node_rank"], group_rank=data["group_rank"], nproc=data["nproc"],
            gpus=tuple(data["gpus"]), gpu_count=data["gpu_count"], host=data.get("host"),
            role=data.get("role", "default"), ranks=None if ranks is None else (ranks[0], ranks[-1]),
            idle_gpus=tuple(data.get("idle_gpus") or ()), visible_devices=data.get("visible_devices"),
            hosts_store=bool(data.get("hosts_store")), command=data.get("command"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlanWorker:
    """One worker and the exact environment torchrun gives it (``None``: known only at run time)."""

    rank: int
    local_rank: int
    group_rank: int
    node_rank: int
    gpu: GPU | None
    env: Mapping[str, str | None]
    role_rank: int | None = None
    formula: str | None = None  # ``RANK = …`` with this launch's numbers, e.g. ``1 × 2 + 1``

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "local_rank": self.local_rank,
            "group_rank": self.group_rank,
            "node_rank": self.node_rank,
            "role_rank": self.role_rank,
            "gpu": self.gpu,
            "formula": self.formula,
            "env": dict(self.env),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanWorker:
        return cls(
            rank=data["rank"], local_rank=data["local_rank"], group_rank=data["group_rank"],
            node_rank=data["node_rank"], gpu=data["gpu"], env=dict(data.get("env") or {}),
            role_rank=data.get("role_rank"), formula=data.get("formula"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlanDocument:
    """``simdist.plan/1``: the launch, its nodes in machine order, its workers in RANK order."""

    launch: Mapping[str, Any]
    world_size: int
    nodes: tuple[PlanNode, ...]
    workers: tuple[PlanWorker, ...]
    warnings: tuple[PlanWarning, ...] = ()
    spec: Mapping[str, Any] | None = None
    restart_count: int | None = None

    @property
    def nodes_by_group_rank(self) -> tuple[PlanNode, ...]:
        return tuple(sorted(self.nodes, key=lambda n: (n.group_rank, n.node_rank)))

    def worker(self, rank: int) -> PlanWorker:
        for worker in self.workers:
            if worker.rank == rank:
                return worker
        raise KeyError(f"RANK {rank} is not in this plan")

    def headline(self) -> str:
        """The job's shape and where its rendezvous happens: ``simdist explain``'s first line."""
        launch = self.launch
        return job_summary([n.nproc for n in self.nodes_by_group_rank], self.world_size,
                           launch.get("rdzv_backend"), launch.get("rdzv_endpoint"), launch.get("rdzv_mode"))  # fmt: skip

    def rank_rule(self) -> str:
        """The RANK rule with this launch's numbers, e.g. ``RANK = GROUP_RANK × 2 + LOCAL_RANK``."""
        launcher_env = (self.spec or {}).get("launcher_env") or {}
        nodes = self.nodes_by_group_rank
        if launcher_env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1" and nodes:
            return (f"RANK = GROUP_RANK × LOCAL_WORLD_SIZE + LOCAL_RANK = GROUP_RANK × {nodes[0].nproc} + LOCAL_RANK "
                    "(TORCH_ELASTIC_WORKER_IDENTICAL=1)")  # fmt: skip
        last = self.workers[-1] if self.workers else None
        example = f"   (e.g. RANK {last.rank} = {last.formula})" if last is not None and last.formula else ""
        if len({n.nproc for n in nodes}) <= 1:
            return f"RANK = GROUP_RANK × {nodes[0].nproc if nodes else 1} + LOCAL_RANK" + example
        return "RANK = Σ nproc of the nodes with a lower GROUP_RANK + LOCAL_RANK" + example

    def with_workers(self, workers: Sequence[PlanWorker]) -> PlanDocument:
        """The same plan with other worker records (e.g. the env each worker really received)."""
        return PlanDocument(self.launch, self.world_size, self.nodes, tuple(workers), self.warnings, self.spec,
                            self.restart_count)  # fmt: skip

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"schema": PLAN_SCHEMA, "launch": dict(self.launch)}
        if self.spec is not None:
            data["spec"] = dict(self.spec)
        data["world_size"] = self.world_size
        if self.restart_count is not None:
            data["restart_count"] = self.restart_count
        data["nodes"] = [n.to_dict() for n in self.nodes]
        data["workers"] = [w.to_dict() for w in self.workers]
        data["warnings"] = [w.to_dict() for w in self.warnings]
        return data

    @classmethod
    def from_dict(cls, data: object, where: str = "input", what: str = PLAN_SCHEMA) -> PlanDocument:
        """Read a plan; a missing or malformed part is a one-line ConfigError naming ``where``."""
        check_keys(data, _PLAN_KEYS, where, what)
        assert isinstance(data, Mapping)
        nodes = check_list(data, "nodes", where, what)
        workers = check_list(data, "workers", where, what)
        for node in nodes:
            check_keys(node, _NODE_KEYS, where, what, "a node")
        for worker in workers:
            check_keys(worker, _WORKER_KEYS, where, what, "a worker")
        warnings = data.get("warnings") or []
        return cls(
            launch=dict(data.get("launch") or {}),
            world_size=data["world_size"],
            nodes=tuple(PlanNode.from_dict(n) for n in nodes),
            workers=tuple(PlanWorker.from_dict(w) for w in workers),
            warnings=tuple(PlanWarning.from_dict(w) for w in warnings if isinstance(w, Mapping)),
            spec=data.get("spec"),
            restart_count=data.get("restart_count"),
        )


def job_summary(nprocs: Sequence[int], world_size: int, backend: str | None, endpoint: str | None,
                mode: str | None = "explicit") -> str:  # fmt: skip
    """``2 nodes × 2 processes → WORLD_SIZE=4 · static rendezvous, …``: from a Plan or a plan document."""
    nodes = len(nprocs)
    if len(set(nprocs)) <= 1:
        nproc = nprocs[0] if nprocs else 0
        shape = f"{nodes} node{'s' * (nodes != 1)} × {nproc} process{'es' * (nproc != 1)}"
    else:
        shape = f"{nodes} nodes with " + "+".join(map(str, nprocs[:8])) + ("+…" if nodes > 8 else "") + " processes"
    text = f"{shape} → WORLD_SIZE={world_size}"
    if backend is not None:
        text += " · " + ("static rendezvous, store on node 0 at" if backend == "static" else "c10d rendezvous at")
        text += f" {endpoint}" + ("" if mode in (None, "explicit") else f" ({mode})")
    return text
