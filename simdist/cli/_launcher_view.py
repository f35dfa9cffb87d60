"""``simdist explain --from LAUNCHER -- …``: another launcher's ranks, mapped to torchrun's.

:func:`from_launcher` sits between ``app.command()`` and ``launch_options`` on ``explain``:
when ``--from`` is given it takes over before the launch options become a torchrun spec,
reads the launcher's own options (the words after ``--``) and shows one table per
process: the launcher's variables next to RANK, LOCAL_RANK, WORLD_SIZE and what
torchrun would give the same process.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Annotated, Optional

import typer

from .._errors import ConfigError
from ._launch_options import LAUNCH_PARAMETERS

FROM_HELP = ("Explain another launcher's convention: slurm, mpirun, accelerate, deepspeed or kubeflow, with its own "
             "options after `--` (e.g. --from slurm -- --nodes 2 --ntasks-per-node 4 --distribution cyclic).")  # fmt: skip
FromOption = Annotated[Optional[str], typer.Option("--from", help=FROM_HELP, metavar="LAUNCHER", show_default=False)]
EXAMPLES = {
    "slurm": "--from slurm -- --nodes 2 --ntasks-per-node 4 --distribution cyclic",
    "mpirun": "--from mpirun -- mpirun -np 8 -H a:4,b:4 --map-by node python train.py",
    "accelerate": "--from accelerate -- accelerate launch --num_processes 8 --num_machines 2 --machine_rank 0 "
    "--main_process_ip 10.0.0.1 train.py",
    "deepspeed": "--from deepspeed -- deepspeed --hostfile hostfile train.py",
    "kubeflow": "--from kubeflow -- --master-replicas 1 --worker-replicas 3 --nproc-per-node 4 torchrun train.py",
}
MAX_ROWS = 64


def from_launcher(func):
    """Route ``explain --from …`` to :func:`explain_launcher`; anything else goes on unchanged."""

    @functools.wraps(func)
    def command(**kwargs):
        if kwargs.get("from_") is None:
            return func(**kwargs)
        return explain_launcher(kwargs)

    command.__signature__ = inspect.signature(func)
    return command


def explain_launcher(kwargs: dict) -> int:
    from ..launch._launchers import LAUNCHERS, launcher_layout, render_launcher_env

    name = kwargs["from_"].strip().lower()
    if name not in LAUNCHERS:
        raise ConfigError(f"--from {kwargs['from_']!r}: expected one of {', '.join(LAUNCHERS)}")
    given = [n for n in LAUNCH_PARAMETERS if kwargs.get(n) not in (None, False)]
    if given:
        names = ", ".join("--" + n.replace("_", "-") for n in given)
        raise ConfigError(f"--from {name}: give {name}'s own options after --, not simdist's launch options ({names})")
    others = {"--plot": kwargs.get("plot") is not None, "--real": bool(kwargs.get("real")),
              "--local-nodes": bool(kwargs.get("local_nodes"))}  # fmt: skip
    refused = [n for n, was in others.items() if was]
    if refused:
        raise ConfigError(f"--from {name}: {', '.join(refused)} work on torchrun launches only")
    words = kwargs.get("command") or []
    if not words:
        raise ConfigError(f"--from {name} needs {name}'s options after --, e.g. simdist explain {EXAMPLES[name]}")
    layout = launcher_layout(name, words)
    fmt = getattr(kwargs.get("format"), "value", kwargs.get("format")) or "table"
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(layout.to_dict(), indent=2) + "\n")
    elif fmt == "env":
        sys.stdout.write(render_launcher_env(layout) + "\n")
    elif fmt == "tree":
        raise ConfigError("--from: the formats are table, env and json (the tree is torchrun's)")
    else:
        from rich.console import Console

        render_layout(layout, Console(highlight=False))
    return 0


def _ranks_text(ranks: list[int]) -> str:
    if not ranks:
        return "-"
    if ranks == list(range(ranks[0], ranks[-1] + 1)):
        return str(ranks[0]) if len(ranks) == 1 else f"{ranks[0]}–{ranks[-1]}"
    shown = ",".join(map(str, ranks[:8]))
    return shown + (",…" if len(ranks) > 8 else "")


def _one_line(header: str) -> str:
    text = ""
    for piece in header.split("\n"):
        text += piece if not text or piece.startswith("_") else " " + piece
    return text


def _cell(value) -> str:
    return "—" if value is None else str(value)


def render_layout(layout, console) -> None:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list = [Text(layout.summary, style="bold")]
    mapping = Text("In torch's names: ")
    for i, (torch_name, source) in enumerate(layout.mapping):
        mapping.append(("" if i == 0 else " · ") + torch_name, style="cyan")
        mapping.append(f" ← {source}")
    parts += [mapping, Text("")]

    nodes = Table(title="Machines", title_justify="left", show_edge=False, header_style="bold cyan")
    for column in ("node", "host", "processes", "RANKs", "torchrun would give"):
        nodes.add_column(column, justify="right" if column in ("node", "processes") else "left")
    base = 0
    for index, host in enumerate(layout.hosts[:MAX_ROWS]):
        ranks = layout.node_ranks(index)
        torchrun = list(range(base, base + len(ranks)))
        base += len(ranks)
        same = sorted(ranks) == torchrun
        nodes.add_row(str(index), host, str(len(ranks)), _ranks_text(sorted(ranks)),
                      Text("same" if same else _ranks_text(torchrun), style="" if same else "yellow"))  # fmt: skip
    if len(layout.hosts) > MAX_ROWS:
        nodes.add_row("…", f"… {len(layout.hosts) - MAX_ROWS} more", "", "", "", style="dim")
    parts += [nodes, Text("")]

    shown = layout.processes[:MAX_ROWS]
    cells = [(header, [_cell(p.launcher_env.get(key)) for p in layout.processes]) for key, header in layout.columns]
    cells += [(key, [_cell(p.torch_env.get(key)) for p in layout.processes]) for key in layout.torch_columns]
    cells.append(("GPU", [_cell(p.gpu) for p in layout.processes]))
    constant = [(h, v[0]) for h, v in cells if len(layout.processes) > 1 and len(set(v)) == 1]
    varying = [(h, v) for h, v in cells if (h, v[0]) not in constant]
    table = Table(title="Processes", title_justify="left", show_edge=False, header_style="bold cyan")
    table.add_column("host", justify="left")
    for header, _ in varying:
        table.add_column(header, justify="right")
    table.add_column("torchrun\nwould give", justify="left")
    for i, p in enumerate(shown):
        verdict = Text("same") if p.same_as_torchrun else Text(
            f"RANK {p.torchrun_rank}, LOCAL {p.torchrun_local_rank}", style="yellow")  # fmt: skip
        table.add_row(p.host, *(values[i] for _, values in varying), verdict)
    if len(layout.processes) > MAX_ROWS:
        table.add_row(f"… {len(layout.processes) - MAX_ROWS} more (-f json lists all)", style="dim")
    parts.append(table)
    if constant:
        line = Text("Every process: ")
        for i, (header, value) in enumerate(constant):
            line.append(("" if i == 0 else " · ") + _one_line(header), style="cyan")
            line.append(f" = {value}")
        parts.append(line)
    parts.append(Text(""))
    if any(p.args for p in layout.processes):
        parts.append(Text(f"Each process also gets an argument, e.g. {' '.join(layout.processes[0].args)}"))
    for note in layout.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if layout.notes:
        parts.append(Text(""))
    if layout.equivalent is not None:
        from ..launch._commands import torchrun_command

        label = ("The same launch with torchrun:" if layout.contiguous
                 else "torchrun with the same processes per machine (ranks as in the last column):")  # fmt: skip
        parts.append(Text(label, style="bold"))
        spec = layout.equivalent
        for machine in range(min(spec.max_nodes, 4)):
            parts.append(Text(f"  node {machine}$ {torchrun_command(spec, machine)}", style="green"))
        if spec.max_nodes > 4:
            parts.append(Text(f"  … {spec.max_nodes - 4} more machines", style="dim"))
        parts.append(Text(""))
    parts.append(Text("Rules from: " + "; ".join(layout.sources), style="dim"))
    console.print(Group(*parts), soft_wrap=True)
