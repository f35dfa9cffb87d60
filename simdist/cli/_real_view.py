"""``--real``: run through torchrun, show predicted vs observed, write the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import RealRunFailed
from ..launch._addresses import is_loopback
from ..launch._spec import LaunchSpec, resolve_rendezvous

if TYPE_CHECKING:
    from ..documents._report import Report, ReportWorker


def _cell(value) -> str:
    if isinstance(value, dict):  # e.g. the env scenario's variables: k=v reads better than JSON in a column
        text = " ".join(f"{k}={v}" for k, v in value.items())
    else:
        text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "…"


def show(report: Report, console) -> None:
    """Predicted and observed side by side, then the differences and the diagnosis."""
    from rich.table import Table
    from rich.text import Text

    plan_workers = {w.rank: w for w in report.plan.workers} if report.plan is not None else {}
    observed = {w.rank: w for w in report.workers}
    predicted_results = report.prediction.results or {}
    predicted_errors = report.prediction.errors or {}
    differences = report.comparison.differences
    differing = {d.rank for d in differences}
    table = Table(title=f"Predicted vs observed · scenario {report.scenario} · backend {report.backend} · "
                        f"torch {report.torch_version}", title_justify="left", header_style="bold cyan")  # fmt: skip
    for column in ("RANK", "node", "LOCAL_RANK", "GPU", "predicted result", "observed result", "host / pid / device", ""):
        table.add_column(column)
    ranks = sorted(set(plan_workers) | set(observed))
    shown = ranks if len(ranks) <= 40 else ranks[:32] + ranks[-4:]
    for rank in shown:
        plan, seen = plan_workers.get(rank), observed.get(rank)
        table.add_row(
            str(rank),
            str(plan.node_rank) if plan else "?",
            str(plan.local_rank) if plan else "?",
            "none" if not plan or plan.gpu is None else str(plan.gpu),
            f"✗ {predicted_errors[str(rank)].split(':')[0]}" if str(rank) in predicted_errors
            else _cell(predicted_results.get(str(rank))),
            "—" if seen is None else (f"✗ {seen.error.type}" if seen.error else _cell(seen.result)),
            "—" if seen is None else _where(seen),
            Text("✓", style="green") if rank not in differing else Text("✗", style="bold red"),
        )
    console.print(table)
    if differences:
        console.print(Text(f"{len(differences)} difference(s) from the prediction:", style="bold red"))
        for d in differences[:20]:
            who = f"rank {d.rank}" if d.rank is not None else "launch"
            console.print(f"  {who}: {d.field}: predicted {_cell(d.predicted)}, observed {_cell(d.observed)}",
                          highlight=False, markup=False)  # fmt: skip
        if len(differences) > 20:
            console.print(f"  … {len(differences) - 20} more in the report", highlight=False)
    if report.diagnosis:
        console.print(Text(f"diagnosis: {report.diagnosis}", style="red"), highlight=False)
    if report.matches and not report.failed:
        console.print(Text(f"✓ real torchrun matched the prediction for all {len(observed)} ranks", style="bold green"))
    elif report.matches:
        console.print(Text(f"✓ real torchrun failed exactly as predicted ({report.prediction.outcome}): "
                           f"{report.prediction.diagnosis}", style="bold yellow"), highlight=False)


def _where(worker: ReportWorker) -> str:
    """``host / pid / device``, e.g. ``node7 / 4242 / cuda:1``."""
    device = worker.device
    kind = "?" if device is None else device.type + (f":{device.index}" if device.index is not None else "")
    return f"{worker.hostname} / {worker.pid} / {kind}"


def run(spec: LaunchSpec, *, scenario: str, backend: str, timeout: float, local_nodes: bool, pg_timeout: float | None,
        report_path: Path, plot: Path | None, script: tuple[str, ...] | None = None, module: bool = False,
        profile: Path | None = None) -> int:  # fmt: skip
    """Run for real and report; the exit status says whether reality matched."""
    from rich.console import Console

    from ..documents._io import check_writable, write_atomic
    from ..real import RealOptions, run_real

    check_writable(report_path)  # before the run, not after it
    if plot is not None:
        from ..plot import check_path

        check_path(plot)
    err = Console(stderr=True, highlight=False)
    setup = resolve_rendezvous(spec)
    host = setup.master_addr if setup.backend == "static" else setup.endpoint_host
    if not local_nodes and host and not is_loopback(host) and spec.max_nodes > 1:
        err.print(f"warning: the rendezvous store on {host} has no authentication — keep it on a trusted network")
    if profile is not None:  # a broken profile is a usage error, found before anything starts
        from ..collectives._profile import load_profile

        load_profile(profile)
    options = RealOptions(scenario=scenario, backend=backend, timeout=timeout, local_nodes=local_nodes,
                          pg_timeout=pg_timeout, script=script, module=module,
                          profile=None if profile is None else str(profile))  # fmt: skip
    report = run_real(spec, options)
    console = Console(highlight=False)
    here = report.nodes_run_here
    if report.gathered_by is None and len(here) < spec.max_nodes and not report.workers:
        for agent in report.agents:
            err.print(f"torchrun on node {agent.node} (exit {agent.returncode}) said:", style="bold")
            for line in agent.stderr_tail[-12:]:
                err.print(f"  {line}", markup=False)
        raise RealRunFailed("no worker reported on this machine (torchrun's last lines are above)")
    cluster_share = len(here) < spec.max_nodes and report.gathered_by is None
    if cluster_share:
        where = (report.plan.launch.get("master_addr") if report.plan else None) or "the node with group rank 0"
        console.print(f"node {here[0]} ran its share: {len(report.workers)} workers reported here; the full report "
                      f"is written on the machine whose worker got RANK 0 ({where})")  # fmt: skip
        return 1 if report.failed else 0
    show(report, console)
    from ._timing_view import show_collectives

    show_collectives(report, console)
    write_atomic(report_path, report.to_json() + "\n")
    console.print(f"report: {report_path}")
    if plot is not None:
        from ..plot import rank_map, save

        save(rank_map(report), plot)
        console.print(f"plot: {plot}")
    sys.stdout.flush()
    return 0 if report.matches and not report.failed else 1
