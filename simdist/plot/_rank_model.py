"""What a rank map shows, worked out from a plan or a report before anything is drawn.

Plain data (no matplotlib): nodes in group-rank order, each with one slot per
physical GPU (idle ones included) and the workers placed on them; long clusters and
very wide nodes are elided, but never a node or GPU where something is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..launch._explain import job_summary

T = TypeVar("T")

MAX_NODES = 8  # more than this: the first HEAD_NODES, "… n nodes …", the last TAIL_NODES
HEAD_NODES, TAIL_NODES = 4, 2
MAX_SLOTS = 16  # GPU slots a node shows before eliding (two rows of eight)
HEAD_SLOTS, TAIL_SLOTS = 11, 4
MAX_NOTES = 8  # differences listed under the map; every differing worker is outlined regardless


@dataclass(slots=True)
class Worker:
    rank: int
    local_rank: int
    gpu: Any  # physical GPU: int, a UUID string, or None
    on_cpu: bool = False  # observed on the CPU (gloo): drawn at its predicted GPU
    shared: bool = False  # another worker of the node uses the same GPU
    missing: bool = False  # predicted but never reported
    differs: bool = False  # appears in the report's differences


@dataclass(slots=True)
class Slot:
    """One cell of a node: a worker on a GPU, an idle/hidden GPU, or "… n GPUs …"."""

    kind: str  # "worker" | "idle" | "hidden" | "elided"
    gpu: Any = None
    worker: Worker | None = None
    hidden_count: int = 0


@dataclass(slots=True)
class Node:
    node_rank: int
    group_rank: int
    host: str | None
    hosts_store: bool
    visible_devices: str | None
    nproc: int
    ranks: tuple[int, int] | None
    slots: list[Slot]


@dataclass(slots=True)
class Gap:
    """Nodes left out of the drawing: how many, and which RANKs they hold."""

    count: int
    first_rank: int | None
    last_rank: int | None


@dataclass(slots=True)
class RankMapModel:
    title: str
    subtitle: str
    title_colour: str | None
    items: list[Node | Gap]
    caption: str
    notes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text): "difference" | "warning"


# -- eliding -------------------------------------------------------------------------------


def elide(
    items: Sequence[T], limit: int, head: int, tail: int, keep: Callable[[T], bool]
) -> list[tuple[T | None, int]]:
    """Items to draw, as ``(item, 0)``, with runs of left-out items as ``(None, count)``.

    Nothing is left out up to ``limit`` items; beyond it the first ``head`` and last
    ``tail`` stay, and so does every item ``keep`` selects (a mismatch must show).
    """
    if len(items) <= limit:
        return [(item, 0) for item in items]
    shown = [i < head or i >= len(items) - tail or keep(item) for i, item in enumerate(items)]
    out: list[tuple[T | None, int]] = []
    run = 0
    for item, visible in zip(items, shown):
        if visible:
            if run:
                out.append((None, run))
                run = 0
            out.append((item, 0))
        else:
            run += 1
    if run:
        out.append((None, run))
    return out


# -- slots ---------------------------------------------------------------------------------


def _gpu_sort_key(gpu: Any) -> tuple:
    return (0, gpu, "") if isinstance(gpu, int) else (1, 0, str(gpu))


def node_slots(gpu_count: int, visible_devices: str | None, workers: Sequence[Worker]) -> list[Slot]:
    """Every physical GPU of a machine in order, with its workers; then workers without one.

    A GPU that CUDA_VISIBLE_DEVICES hides is "hidden"; one nobody uses is "idle". A
    GPU named by UUID has no index, so it comes after the numbered ones.
    """
    listed = None if not visible_devices else [v.strip() for v in visible_devices.split(",")]
    numbered_only = listed is not None and all(v.isdigit() for v in listed)
    by_gpu: dict[Any, list[Worker]] = {}
    for worker in sorted(workers, key=lambda w: (w.local_rank, w.rank)):
        by_gpu.setdefault(worker.gpu, []).append(worker)
    for gpu, group in by_gpu.items():
        for worker in group:
            worker.shared = gpu is not None and len(group) > 1
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


def _elide_slots(slots: list[Slot]) -> list[Slot]:
    def wrong(slot: Slot) -> bool:
        w = slot.worker
        return w is not None and (w.differs or w.missing or w.shared or w.gpu is None)

    out: list[Slot] = []
    for slot, hidden in elide(slots, MAX_SLOTS, HEAD_SLOTS, TAIL_SLOTS, wrong):
        out.append(slot if slot is not None else Slot("elided", hidden_count=hidden))
    return out


# -- captions ------------------------------------------------------------------------------


def rank_formula(plan: dict) -> str:
    """The RANK rule with this launch's numbers, e.g. ``RANK = GROUP_RANK × 2 + LOCAL_RANK``."""
    launcher_env = (plan.get("spec") or {}).get("launcher_env") or {}
    nodes = sorted(plan["nodes"], key=lambda n: n["group_rank"])
    workers = plan["workers"]
    if launcher_env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1" and nodes:
        return (f"RANK = GROUP_RANK × LOCAL_WORLD_SIZE + LOCAL_RANK = GROUP_RANK × {nodes[0]['nproc']} + LOCAL_RANK "
                "(TORCH_ELASTIC_WORKER_IDENTICAL=1)")
    example = _example(workers)
    if len({n["nproc"] for n in nodes}) <= 1:
        nproc = nodes[0]["nproc"] if nodes else 1
        return f"RANK = GROUP_RANK × {nproc} + LOCAL_RANK" + example
    return "RANK = Σ nproc of the nodes with a lower GROUP_RANK + LOCAL_RANK" + example


def _example(workers: Sequence[dict]) -> str:
    # The last worker is the one whose formula uses every term; its text comes from the plan.
    if not workers or "formula" not in workers[-1]:
        return ""
    last = workers[-1]
    return f"   (e.g. RANK {last['rank']} = {last['formula']})"


def headline(plan: dict) -> str:
    """The job's shape and where its rendezvous happens: ``simdist explain``'s first line."""
    launch = plan.get("launch") or {}
    nprocs = [n["nproc"] for n in sorted(plan["nodes"], key=lambda n: n["group_rank"])]
    return job_summary(nprocs, plan["world_size"], launch.get("rdzv_backend"), launch.get("rdzv_endpoint"),
                       launch.get("rdzv_mode"))  # fmt: skip


# -- models --------------------------------------------------------------------------------


def _nodes(node_dicts: Sequence[dict], workers_of: Callable[[dict], list[Worker]]) -> list[Node]:
    nodes = []
    for n in sorted(node_dicts, key=lambda n: (n["group_rank"], n["node_rank"])):
        workers = workers_of(n)
        ranks = n.get("ranks")
        nodes.append(
            Node(
                node_rank=n["node_rank"],
                group_rank=n["group_rank"],
                host=n.get("host"),
                hosts_store=bool(n.get("hosts_store")),
                visible_devices=n.get("visible_devices"),
                nproc=n["nproc"],
                ranks=tuple(ranks) if ranks else None,
                slots=node_slots(n["gpu_count"], n.get("visible_devices"), workers),
            )
        )
    return nodes


def _elide_nodes(nodes: list[Node]) -> list[Node | Gap]:
    def wrong(node: Node) -> bool:
        return any(s.worker is not None and (s.worker.differs or s.worker.missing) for s in node.slots)

    items: list[Node | Gap] = []
    kept = elide(nodes, MAX_NODES, HEAD_NODES, TAIL_NODES, wrong)
    position = 0
    for node, hidden in kept:
        if node is not None:
            items.append(node)
            position += 1
            continue
        left_out = nodes[position : position + hidden]
        position += hidden
        spans = [n.ranks for n in left_out if n.ranks]
        items.append(Gap(hidden, spans[0][0] if spans else None, spans[-1][1] if spans else None))
    return items


def plan_model(plan: dict, *, title_prefix: str = "") -> RankMapModel:
    """The predicted layout: where torchrun will put every worker."""
    by_node: dict[int, list[Worker]] = {}
    for w in plan["workers"]:
        by_node.setdefault(w["node_rank"], []).append(Worker(w["rank"], w["local_rank"], w["gpu"]))
    nodes = _nodes(plan["nodes"], lambda n: by_node.get(n["node_rank"], []))
    notes = [("warning", w["message"]) for w in plan.get("warnings", ()) if w.get("level", "warning") == "warning"]
    return RankMapModel(
        title=title_prefix + headline(plan),
        subtitle=_subtitle(plan),
        title_colour=None,
        items=_elide_nodes(nodes),
        caption=rank_formula(plan),
        notes=notes,
    )


def _subtitle(plan: dict) -> str:
    restarts = plan.get("restart_count")
    return f"after {restarts} restart{'s' * (restarts != 1)}" if restarts else ""


def observed_gpu(device: dict | None) -> tuple[Any, bool]:
    """The physical GPU a worker really used (through CUDA_VISIBLE_DEVICES), and whether it ran on the CPU."""
    from ..real._report import observed_gpu as physical_gpu

    return physical_gpu(device), not device or device.get("type") != "cuda"


def report_model(report: dict) -> RankMapModel:
    """The observed layout of a real run, every disagreement with the prediction marked."""
    plan = report.get("plan")
    comparison = report.get("comparison") or {}
    differences = comparison.get("differences") or []
    differing = {d.get("rank") for d in differences if d.get("rank") is not None}
    predicted = {(w["node_rank"], w["local_rank"]): w for w in plan["workers"]} if plan else {}

    by_node: dict[int, list[Worker]] = {}
    seen: set[tuple[int, int]] = set()
    hosts: dict[int, str] = {}
    for w in report["workers"]:
        key = (w["node_rank"], w["local_rank"])
        seen.add(key)
        gpu, on_cpu = observed_gpu(w.get("device"))
        if on_cpu:  # gloo on CPU: keep the predicted slot so the placement still shows
            gpu = predicted[key]["gpu"] if key in predicted else None
        if w.get("hostname"):
            hosts.setdefault(w["node_rank"], w["hostname"])
        by_node.setdefault(w["node_rank"], []).append(
            Worker(w["rank"], w["local_rank"], gpu, on_cpu=on_cpu, differs=w["rank"] in differing)
        )
    for key, w in predicted.items():  # predicted but never reported: a ghost slot
        if key not in seen:
            by_node.setdefault(key[0], []).append(
                Worker(w["rank"], w["local_rank"], w["gpu"], missing=True, differs=w["rank"] in differing)
            )

    node_dicts = [dict(n) for n in plan["nodes"]] if plan else []
    known = {n["node_rank"] for n in node_dicts}
    for node_rank, workers in sorted(by_node.items()):
        if node_rank not in known:  # a node the prediction did not have
            group = next(w["group_rank"] for w in report["workers"] if w["node_rank"] == node_rank)
            # Without a prediction the machine's GPU count is unknown: show only the GPUs in use.
            node_dicts.append({"node_rank": node_rank, "group_rank": group, "nproc": len(workers),
                               "gpu_count": 0, "ranks": None})
    for n in node_dicts:
        n["host"] = hosts.get(n["node_rank"], n.get("host"))
        observed = by_node.get(n["node_rank"], [])
        n["nproc"] = sum(not w.missing for w in observed)
        ranks = sorted(w.rank for w in observed if not w.missing)
        n["ranks"] = [ranks[0], ranks[-1]] if ranks else None
    nodes = _nodes(node_dicts, lambda n: by_node.get(n["node_rank"], []))

    matches = bool(comparison.get("matches")) and not differences
    count = len(differences)
    verdict = (
        "matches the prediction ✓" if matches else f"{count} difference{'s' * (count != 1)} from the prediction ✗"
    )
    backend = report.get("backend") or "?"
    torch_version = report.get("torch_version")
    title = f"Observed: real run with {backend}" + (f" (torch {torch_version})" if torch_version else "")
    title += f" — {verdict}"
    notes = [("difference", _difference_text(d)) for d in differences[:MAX_NOTES]]
    if len(differences) > MAX_NOTES:
        notes.append(("difference", f"… and {len(differences) - MAX_NOTES} more (see the report's comparison)"))
    return RankMapModel(
        title=title,
        subtitle=headline(plan) if plan else f"WORLD_SIZE {len(report['workers'])} observed",
        title_colour=None if matches else "error",
        items=_elide_nodes(nodes),
        caption=rank_formula(plan) if plan else "",
        notes=notes,
    )


def _difference_text(d: dict) -> str:
    who = f"RANK {d['rank']}" if d.get("rank") is not None else "the job"
    return f"{who}: {d.get('field')} predicted {_show(d.get('predicted'))}, observed {_show(d.get('observed'))}"


def _show(value: Any) -> str:
    return "none" if value is None else str(value)
