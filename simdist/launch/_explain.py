"""Plain-text views of a plan: headline, tree, ``export`` lines and JSON.

Stdlib only; the rich table lives with the CLI. Views meant for eyes elide the
middle of large clusters; data views (env, JSON) stay complete.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from typing import TypeVar

from ..documents._elide import Elided, elide as elide_items
from ._plan import NodePlan, Plan, WorkerPlan

__all__ = ["common_env", "elide", "headline", "job_summary", "plan_json", "rank_rule", "render_env", "render_tree"]

T = TypeVar("T")
RUNTIME = "<run time>"


def elide(items: Sequence[T], head: int = 4, tail: int = 2) -> tuple[Sequence[T], int, Sequence[T]]:
    """Split a long sequence into (first ``head``, number hidden, last ``tail``).

    The text views' form of the one eliding rule (:mod:`simdist.documents._elide`): hiding a
    single item saves no line, so up to ``head + tail + 1`` items show whole.
    """
    hidden = sum(part.count for part in elide_items(items, head + tail + 1, head, tail) if isinstance(part, Elided))
    if not hidden:
        return items, 0, ()
    return items[:head], hidden, items[len(items) - tail :]


def describe_gpu(gpu) -> str:
    return "none" if gpu is None else str(gpu)


def headline(plan: Plan) -> str:
    """One sentence: the shape of the job and where its rendezvous happens."""
    setup = plan.rendezvous
    nprocs = [n.nproc for n in plan.nodes_by_group_rank]
    return job_summary(nprocs, plan.world_size, setup.backend, setup.endpoint, setup.mode)


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


def rank_rule(plan: Plan) -> str:
    """The RANK formula in general and with this launch's numbers."""
    spec = plan.spec
    if spec.env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1":
        return "RANK = GROUP_RANK × LOCAL_WORLD_SIZE + LOCAL_RANK (TORCH_ELASTIC_WORKER_IDENTICAL=1)"
    general = "RANK = (sum of nproc on nodes with a lower GROUP_RANK) + LOCAL_RANK"
    if spec.homogeneous:
        return f"{general}; here every node has {spec.nprocs[0]}: RANK = GROUP_RANK × {spec.nprocs[0]} + LOCAL_RANK"
    return general


def common_env(plan: Plan) -> dict[str, str | None]:
    """Variables with the same value in every worker (shown once, not per worker)."""
    workers = plan.workers
    if not len(workers):
        return {}
    if len(workers) <= 4096:
        envs = (w.env for w in workers)
    else:  # node-level values are decided per node: a node's first and last worker cover them
        envs = (workers[r].env for n in plan.nodes for r in (n.base_rank, n.base_rank + n.nproc - 1))
    common = dict(workers[0].env)
    for env in envs:
        for key in [k for k, v in common.items() if env.get(k, common) != v]:
            del common[key]
    return common


def _value(value: str | None) -> str:
    return RUNTIME if value is None else value


def render_tree(plan: Plan, highlight: int | None = None) -> str:
    """The seed tutorial's tree: one branch per node, one leaf per worker."""
    lines = [headline(plan), rank_rule(plan), ""]
    shown, hidden, tail = elide(plan.nodes_by_group_rank, head=6, tail=2)
    for node in shown:
        lines += _tree_node(plan, node, highlight)
    if hidden:
        lines.append(f"… {hidden} more nodes …")
        for node in tail:
            lines += _tree_node(plan, node, highlight)
    lines += [""] + warning_lines(plan) if plan.warnings else []
    return "\n".join(lines)


def warning_lines(plan: Plan) -> list[str]:
    return [f"{w.level} [{w.code}]: {w.message}" for w in plan.warnings]


def _tree_node(plan: Plan, node: NodePlan, highlight: int | None) -> list[str]:
    facts = [f"group rank {node.group_rank}"]
    if node.host:
        facts.append(node.host)
    if node.hosts_store:
        facts.append("hosts the store")
    if node.role != "default":
        facts.append(f"role {node.role}")
    mark = "  ◀ this machine" if highlight == node.node_rank else ""
    lines = [f"node_rank={node.node_rank} ({', '.join(facts)}){mark}"]
    ranks = _sample_ranks(node)
    for i, rank in enumerate(ranks):
        branch = "└──" if i == len(ranks) - 1 else "├──"
        if rank is None:
            lines.append(f"├── … {node.nproc - 5} more local ranks …")
            continue
        worker = plan.workers[rank]
        lines.append(
            f"{branch} local_rank={worker.local_rank} → RANK={worker.rank}"
            f"  (GPU {describe_gpu(worker.gpu)}; {worker.rank} = {plan.rank_formula(worker)})"
        )
    return lines


def _sample_ranks(node: NodePlan) -> list[int | None]:
    """The node's ranks to list; ``None`` stands for the elided middle of a long node."""
    ranks = list(node.ranks)
    if len(ranks) <= 8:
        return ranks
    return [*ranks[:4], None, ranks[-1]]


def render_env(plan: Plan, node_rank: int | None = None) -> str:
    """``export`` lines per worker, ready to paste; run-time values are commented out."""
    blocks = []
    nodes = [plan.node(node_rank)] if node_rank is not None else list(plan.nodes_by_group_rank)
    for node in nodes:
        for rank in node.ranks:
            worker = plan.workers[rank]
            blocks.append(_env_block(plan, worker))
    return "\n\n".join(blocks)


def _env_block(plan: Plan, worker: WorkerPlan) -> str:
    lines = [
        f"# node_rank={worker.node_rank} local_rank={worker.local_rank} → RANK={worker.rank}"
        f" (= {plan.rank_formula(worker)}), GPU {describe_gpu(worker.gpu)}"
    ]
    for key, value in worker.env.items():
        if value is None:
            lines.append(f"# export {key}=…  # only known at run time")
        else:
            lines.append(f"export {key}={shlex.quote(value)}")
    return "\n".join(lines)


def plan_json(plan: Plan) -> str:
    import json

    return json.dumps(plan.to_dict(), indent=2)


def ranks_text(ranks: Iterable[int]) -> str:
    ranks = list(ranks)
    if not ranks:
        return "-"
    return str(ranks[0]) if len(ranks) == 1 else f"{ranks[0]}–{ranks[-1]}"
