"""What a rank map shows, worked out from a plan or a report before anything is drawn.

Plain data (no matplotlib), read from the typed documents: nodes in group-rank order,
each with one slot per physical GPU (idle ones included) and the workers placed on
them; long clusters and very wide nodes are elided, but never a node or GPU where
something is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..documents import Difference, PlanDocument, PlanNode, Report
from ..documents._elide import Elided, elide

MAX_NODES = 8  # more than this: the first HEAD_NODES, "… n nodes …", the last TAIL_NODES
HEAD_NODES, TAIL_NODES = 4, 2
MAX_SLOTS = 16  # GPU slots a node shows before eliding (two rows of eight)
HEAD_SLOTS, TAIL_SLOTS = 11, 4
MAX_NOTES = 8  # differences listed under the map; every differing worker is outlined regardless


@dataclass(frozen=True, slots=True)
class Worker:
    rank: int
    local_rank: int
    gpu: Any  # physical GPU: int, a UUID string, or None
    on_cpu: bool = False  # observed on the CPU (gloo): drawn at its predicted GPU
    shared: bool = False  # another worker of the node uses the same GPU
    missing: bool = False  # predicted but never reported
    differs: bool = False  # appears in the report's differences


@dataclass(frozen=True, slots=True)
class Slot:
    """One cell of a node: a worker on a GPU, an idle/hidden GPU, or "… n GPUs …"."""

    kind: str  # "worker" | "idle" | "hidden" | "elided"
    gpu: Any = None
    worker: Worker | None = None
    hidden_count: int = 0


@dataclass(frozen=True, slots=True)
class Node:
    node_rank: int
    group_rank: int
    host: str | None
    hosts_store: bool
    visible_devices: str | None
    nproc: int
    ranks: tuple[int, int] | None
    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class Gap:
    """Nodes left out of the drawing: how many, and which RANKs they hold."""

    count: int
    first_rank: int | None
    last_rank: int | None


@dataclass(frozen=True, slots=True)
class RankMapModel:
    title: str
    subtitle: str
    title_colour: str | None
    items: tuple[Node | Gap, ...]
    caption: str
    notes: tuple[tuple[str, str], ...] = ()  # (kind, text): "difference" | "warning"


# -- slots ---------------------------------------------------------------------------------


def node_slots(gpu_count: int, visible_devices: str | None, workers: Sequence[Worker]) -> tuple[Slot, ...]:
    """Every physical GPU of a machine in order, with its workers; then workers without one.

    A GPU that CUDA_VISIBLE_DEVICES hides is "hidden"; one nobody uses is "idle". A
    GPU named by UUID has no index, so it comes after the numbered ones.
    """
    listed = None if not visible_devices else [v.strip() for v in visible_devices.split(",")]
    numbered_only = listed is not None and all(v.isdigit() for v in listed)
    by_gpu: dict[Any, list[Worker]] = {}
    for worker in sorted(workers, key=lambda w: (w.local_rank, w.rank)):
        by_gpu.setdefault(worker.gpu, []).append(worker)
    by_gpu = {gpu: [replace(w, shared=gpu is not None and len(group) > 1) for w in group]
              for gpu, group in by_gpu.items()}  # fmt: skip
    physical = set(range(max(gpu_count, 0))) | {g for g in by_gpu if isinstance(g, int)}
    named = [g for g in by_gpu if g is not None and not isinstance(g, int)]
    slots: list[Slot] = []
    for gpu in sorted(physical) + named:
        if gpu in by_gpu:
            slots.extend(Slot("worker", gpu, w) for w in by_gpu[gpu])
        elif numbered_only and str(gpu) not in listed:
            slots.append(Slot("hidden", gpu))
        else:
            slots.append(Slot("idle", gpu))
    slots.extend(Slot("worker", None, w) for w in by_gpu.get(None, ()))
    return _elide_slots(slots)


def _elide_slots(slots: list[Slot]) -> tuple[Slot, ...]:
    def wrong(slot: Slot) -> bool:
        w = slot.worker
        return w is not None and (w.differs or w.missing or w.shared or w.gpu is None)

    kept = elide(slots, MAX_SLOTS, HEAD_SLOTS, TAIL_SLOTS, wrong)
    return tuple(Slot("elided", hidden_count=item.count) if isinstance(item, Elided) else item for item in kept)


# -- models --------------------------------------------------------------------------------


def _nodes(machines: Sequence[PlanNode], workers: Callable[[int], Sequence[Worker]]) -> list[Node]:
    """The nodes in group-rank order, each with its GPU slots; ``workers`` gives a node_rank's workers."""
    return [
        Node(node_rank=n.node_rank, group_rank=n.group_rank, host=n.host, hosts_store=n.hosts_store,
             visible_devices=n.visible_devices, nproc=n.nproc, ranks=n.ranks,
             slots=node_slots(n.gpu_count, n.visible_devices, workers(n.node_rank)))
        for n in sorted(machines, key=lambda n: (n.group_rank, n.node_rank))
    ]  # fmt: skip


def _elide_nodes(nodes: list[Node]) -> tuple[Node | Gap, ...]:
    def wrong(node: Node) -> bool:
        return any(s.worker is not None and (s.worker.differs or s.worker.missing) for s in node.slots)

    items: list[Node | Gap] = []
    position = 0
    for item in elide(nodes, MAX_NODES, HEAD_NODES, TAIL_NODES, wrong):
        if isinstance(item, Node):
            items.append(item)
            position += 1
            continue
        left_out = nodes[position : position + item.count]
        position += item.count
        spans = [n.ranks for n in left_out if n.ranks]
        items.append(Gap(item.count, spans[0][0] if spans else None, spans[-1][1] if spans else None))
    return tuple(items)


def plan_model(plan: PlanDocument, *, title_prefix: str = "") -> RankMapModel:
    """The predicted layout: where torchrun will put every worker."""
    by_node: dict[int, list[Worker]] = {}
    for w in plan.workers:
        by_node.setdefault(w.node_rank, []).append(Worker(w.rank, w.local_rank, w.gpu))
    return RankMapModel(
        title=title_prefix + plan.headline(),
        subtitle=_subtitle(plan),
        title_colour=None,
        items=_elide_nodes(_nodes(plan.nodes, lambda node_rank: by_node.get(node_rank, []))),
        caption=plan.rank_rule(),
        notes=tuple(("warning", w.message) for w in plan.warnings if w.level == "warning"),
    )


def _subtitle(plan: PlanDocument) -> str:
    restarts = plan.restart_count
    return f"after {restarts} restart{'s' * (restarts != 1)}" if restarts else ""


def report_model(report: Report) -> RankMapModel:
    """The observed layout of a real run, every disagreement with the prediction marked."""
    plan = report.plan
    differences = report.comparison.differences
    differing = {d.rank for d in differences if d.rank is not None}
    predicted = {(w.node_rank, w.local_rank): w for w in plan.workers} if plan else {}

    by_node: dict[int, list[Worker]] = {}
    seen: set[tuple[int, int]] = set()
    hosts: dict[int, str] = {}
    for w in report.workers:
        key = (w.node_rank, w.local_rank)
        seen.add(key)
        gpu, on_cpu = w.physical_gpu, w.device is None or w.device.type != "cuda"
        if on_cpu:  # gloo on CPU: keep the predicted slot so the placement still shows
            gpu = predicted[key].gpu if key in predicted else None
        if w.hostname:
            hosts.setdefault(w.node_rank, w.hostname)
        by_node.setdefault(w.node_rank, []).append(
            Worker(w.rank, w.local_rank, gpu, on_cpu=on_cpu, differs=w.rank in differing)
        )
    for key, p in predicted.items():  # predicted but never reported: a ghost slot
        if key not in seen:
            by_node.setdefault(key[0], []).append(
                Worker(p.rank, p.local_rank, p.gpu, missing=True, differs=p.rank in differing)
            )

    machines = list(plan.nodes) if plan else []
    known = {n.node_rank for n in machines}
    for node_rank, workers in sorted(by_node.items()):
        if node_rank not in known:  # a node the prediction did not have
            group = next(w.group_rank for w in report.workers if w.node_rank == node_rank)
            # Without a prediction the machine's GPU count is unknown: show only the GPUs in use.
            machines.append(PlanNode(node_rank, group, nproc=len(workers), gpus=(), gpu_count=0))
    observed = []
    for n in machines:  # what the machine really ran: its host, its reported workers and their RANKs
        ran = [w for w in by_node.get(n.node_rank, []) if not w.missing]
        ranks = sorted(w.rank for w in ran)
        observed.append(replace(n, host=hosts.get(n.node_rank, n.host), nproc=len(ran),
                                ranks=(ranks[0], ranks[-1]) if ranks else None))  # fmt: skip
    nodes = _nodes(observed, lambda node_rank: by_node.get(node_rank, []))

    matches = report.comparison.matches
    count = len(differences)
    verdict = (
        "matches the prediction ✓" if matches else f"{count} difference{'s' * (count != 1)} from the prediction ✗"
    )
    backend = report.backend or "?"
    title = f"Observed: real run with {backend}" + (f" (torch {report.torch_version})" if report.torch_version else "")
    title += f" — {verdict}"
    notes = [("difference", _difference_text(d)) for d in differences[:MAX_NOTES]]
    if len(differences) > MAX_NOTES:
        notes.append(("difference", f"… and {len(differences) - MAX_NOTES} more (see the report's comparison)"))
    return RankMapModel(
        title=title,
        subtitle=plan.headline() if plan else f"WORLD_SIZE {len(report.workers)} observed",
        title_colour=None if matches else "error",
        items=_elide_nodes(nodes),
        caption=plan.rank_rule() if plan else "",
        notes=tuple(notes),
    )


def _difference_text(d: Difference) -> str:
    # Values as the user typed or saw them (29500, not '29500'): unlike Difference's repr-based str().
    who = f"RANK {d.rank}" if d.rank is not None else "the job"
    return f"{who}: {d.field} predicted {_show(d.predicted)}, observed {_show(d.observed)}"


def _show(value: Any) -> str:
    return "none" if value is None else str(value)
