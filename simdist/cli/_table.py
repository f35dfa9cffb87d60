"""The default ``explain`` view: rich tables of nodes and workers."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..launch._explain import RUNTIME, common_env, describe_gpu, elide, headline, rank_rule, ranks_text
from ..launch._plan import NodePlan, Plan

PER_WORKER_COLUMNS = ("RANK", "LOCAL_RANK")
MAX_LOCAL_RANKS = 8


def _gpu_cell(node: NodePlan) -> Text:
    text = Text()
    for i, gpu in enumerate(node.gpus[:MAX_LOCAL_RANKS]):
        text.append(("" if i == 0 else " ") + describe_gpu(gpu), style="red" if gpu is None else "bold")
    if node.nproc > MAX_LOCAL_RANKS:
        text.append(" …")
    if node.idle_gpus:
        idle = node.idle_gpus
        text.append(f"  idle: {','.join(map(str, idle[:8]))}{'…' if len(idle) > 8 else ''}", style="dim")
    return text


def nodes_table(plan: Plan, highlight: int | None) -> Table:
    table = Table(title="Nodes", title_justify="left", show_edge=False, header_style="bold cyan")
    for column in ("node_rank", "group rank", "host", "nproc", "RANKs", "GPU per local rank"):
        table.add_column(column, justify="right" if column in ("node_rank", "group rank", "nproc") else "left")
    shown, hidden, tail = elide(plan.nodes_by_group_rank, head=6, tail=2)
    for nodes, is_tail in ((shown, False), (tail, True)):
        if is_tail and hidden:
            first, last = shown[-1].ranks.stop, tail[0].ranks.start - 1
            table.add_row("…", "…", "", "", f"… {hidden} more nodes, ranks {first}–{last} …", "", style="dim")
        for node in nodes:
            host = (node.host or "—") + (" (store)" if node.hosts_store else "")
            table.add_row(
                f"▶ {node.node_rank}" if node.node_rank == highlight else str(node.node_rank),
                str(node.group_rank),
                host,
                str(node.nproc),
                ranks_text(node.ranks),
                _gpu_cell(node),
                style="reverse" if node.node_rank == highlight else None,
            )
    return table


def workers_table(plan: Plan, highlight: int | None, common: dict) -> Table:
    table = Table(title="Workers", title_justify="left", show_edge=False, header_style="bold cyan")
    for column in ("RANK", "= formula", "node_rank", "LOCAL_RANK", "GPU", "per-worker env"):
        table.add_column(column, justify="right" if column in ("RANK", "node_rank", "LOCAL_RANK", "GPU") else "left")
    shown, hidden, tail = elide(plan.nodes_by_group_rank, head=4, tail=1)
    for nodes, is_tail in ((shown, False), (tail, True)):
        if is_tail and hidden:
            table.add_row("…", f"… {hidden} more nodes …", "", "", "", "", style="dim")
        for node in nodes:
            ranks = list(node.ranks)
            picked = ranks if len(ranks) <= MAX_LOCAL_RANKS else [*ranks[:4], None, ranks[-1]]
            for rank in picked:
                if rank is None:
                    table.add_row("…", f"… {node.nproc - 5} more on node {node.node_rank} …", "", "", "", "", style="dim")
                    continue
                worker = plan.workers[rank]
                varying = " ".join(
                    f"{k}={RUNTIME if v is None else v}"
                    for k, v in worker.env.items()
                    if k not in common and k not in PER_WORKER_COLUMNS
                )
                table.add_row(
                    str(worker.rank),
                    f"= {plan.rank_formula(worker)}",
                    str(worker.node_rank),
                    str(worker.local_rank),
                    Text(describe_gpu(worker.gpu), style="red" if worker.gpu is None else ""),
                    varying,
                    style="reverse" if node.node_rank == highlight else None,
                )
    return table


def render_table(plan: Plan, console: Console, highlight: int | None = None) -> None:
    common = common_env(plan)
    parts: list = [Text(headline(plan), style="bold"), Text(rank_rule(plan)), Text("")]
    parts += [nodes_table(plan, highlight), Text(""), workers_table(plan, highlight, common), Text("")]
    env = Text("Every worker also gets:\n", style="bold")
    for key, value in common.items():
        env.append(f"  {key}=", style="cyan")
        env.append(RUNTIME if value is None else value, style="dim italic" if value is None else "")
        env.append("\n")
    parts.append(env)
    if plan.warnings:
        for warning in plan.warnings:
            style = "yellow" if warning.level == "warning" else "dim"
            parts.append(Text(f"{'warning' if warning.level == 'warning' else 'note'} [{warning.code}]: {warning.message}", style=style))
        parts.append(Text(""))
    parts.append(Text("Run on each machine:", style="bold"))
    shown, hidden, tail = elide(plan.nodes, head=4, tail=1)
    for nodes, is_tail in ((shown, False), (tail, True)):
        if is_tail and hidden:
            parts.append(Text(f"  … {hidden} more machines, each with its own command …", style="dim"))
        for node in nodes:
            from ..launch._commands import torchrun_command

            mark = "▶" if node.node_rank == highlight else " "
            line = Text(f"{mark} node {node.node_rank}$ ", style="green")
            line.append(torchrun_command(plan.spec, node.node_rank))
            parts.append(line)
    console.print(Group(*parts), soft_wrap=True)
