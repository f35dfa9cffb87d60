"""What any launcher's layout looks like, next to the torchrun launch closest to it.

A :class:`LauncherLayout` lists every process a launcher starts: where it runs, the
variables the launcher sets (in the launcher's own names), and the rank variables a
torch script uses (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``) as
the launcher's rule gives them. Each process also carries what torchrun would give
the process started in the same place (same node, same start order) in the launch
with the same processes per node, so that a table can show where the conventions part.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ..._errors import ConfigError
from .._spec import LaunchSpec

__all__ = ["LauncherLayout", "LauncherProcess", "Parser", "expand_hostlist", "layout_from_plan", "torchrun_places"]

TORCH_KEYS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK")


@dataclass(frozen=True, slots=True, kw_only=True)
class LauncherProcess:
    """One process a launcher starts."""

    rank: int
    local_rank: int
    node: int  # the machine's index in the launcher's node order
    host: str
    order: int  # the k-th process started on its node (torchrun would call it LOCAL_RANK k)
    world_size: int
    local_world_size: int
    gpu: int | str | None  # the physical GPU ``torch.cuda.set_device(LOCAL_RANK)`` lands on
    launcher_env: dict[str, str | None]  # what the launcher sets, in its names (None: known at run time)
    torch_env: dict[str, str | None]  # RANK, LOCAL_RANK, … as this launcher's rule gives them
    args: tuple[str, ...] = ()  # arguments the launcher adds to the script's own (DeepSpeed's --local_rank)
    torchrun_rank: int = 0
    torchrun_local_rank: int = 0

    @property
    def same_as_torchrun(self) -> bool:
        return (self.rank, self.local_rank) == (self.torchrun_rank, self.torchrun_local_rank)


@dataclass(frozen=True, slots=True, kw_only=True)
class LauncherLayout:
    """Every process of one launch by another launcher, and how it maps to torchrun's names."""

    launcher: str
    command: tuple[str, ...]  # what was typed (after the launcher's name)
    summary: str
    mapping: tuple[tuple[str, str], ...]  # (torch variable, the launcher's variable or rule)
    columns: tuple[tuple[str, str], ...]  # (the launcher's variable, its column header) worth a column each
    torch_columns: tuple[str, ...]  # torch's names shown as well (those no launcher column maps to)
    hosts: tuple[str, ...]  # machines in the launcher's order (only those that run something)
    processes: tuple[LauncherProcess, ...]  # by rank
    equivalent: LaunchSpec | None  # the torchrun launch with the same processes per machine
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def world_size(self) -> int:
        return len(self.processes)

    def node_ranks(self, node: int) -> list[int]:
        return [p.rank for p in self.processes if p.node == node]

    @property
    def contiguous(self) -> bool:
        """True when every process has the rank and local rank torchrun would give it."""
        return all(p.same_as_torchrun for p in self.processes)

    def to_dict(self) -> dict:
        """The ``simdist.launcher/1`` document."""
        from .._commands import torchrun_command

        equivalent = self.equivalent
        return {
            "schema": "simdist.launcher/1",
            "launcher": self.launcher,
            "command": list(self.command),
            "summary": self.summary,
            "world_size": self.world_size,
            "mapping": [{"torch": torch, "from": source} for torch, source in self.mapping],
            "nodes": [
                {"node": i, "host": host, "nproc": len(self.node_ranks(i)), "ranks": self.node_ranks(i)}
                for i, host in enumerate(self.hosts)
            ],
            "processes": [
                {
                    "rank": p.rank,
                    "local_rank": p.local_rank,
                    "node": p.node,
                    "host": p.host,
                    "order": p.order,
                    "world_size": p.world_size,
                    "local_world_size": p.local_world_size,
                    "gpu": p.gpu,
                    "launcher_env": p.launcher_env,
                    "torch_env": p.torch_env,
                    "args": list(p.args),
                    "torchrun": {"rank": p.torchrun_rank, "local_rank": p.torchrun_local_rank},
                    "same_as_torchrun": p.same_as_torchrun,
                }
                for p in self.processes
            ],
            "same_as_torchrun": self.contiguous,
            "torchrun_commands": None
            if equivalent is None
            else [torchrun_command(equivalent, m) for m in range(equivalent.max_nodes)],
            "notes": list(self.notes),
            "sources": list(self.sources),
        }


def layout_from_plan(plan, *, launcher: str, command, summary, mapping, columns, launcher_env_of, notes, sources,
                     args_of=None, torch_columns=("RANK", "LOCAL_RANK", "WORLD_SIZE")) -> LauncherLayout:  # fmt: skip
    """A layout whose processes *are* torchrun's workers (accelerate, Kubeflow pods running torchrun)."""
    processes = []
    nodes = plan.nodes_by_group_rank
    hosts = tuple(n.host or f"machine {n.node_rank}" for n in nodes)
    for index, node in enumerate(nodes):
        for rank in node.ranks:
            worker = plan.workers[rank]
            env = worker.env
            torch_env = {k: env.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
                                                 "MASTER_ADDR", "MASTER_PORT")}  # fmt: skip
            processes.append(
                LauncherProcess(
                    rank=worker.rank, local_rank=worker.local_rank, node=index, host=hosts[index],
                    order=worker.local_rank, world_size=plan.world_size, local_world_size=node.nproc,
                    gpu=worker.gpu, launcher_env=launcher_env_of(node, worker), torch_env=torch_env,
                    args=tuple(args_of(worker)) if args_of else (), torchrun_rank=worker.rank,
                    torchrun_local_rank=worker.local_rank,
                )
            )  # fmt: skip
    return LauncherLayout(
        launcher=launcher, command=tuple(command), summary=summary, mapping=mapping, columns=columns,
        torch_columns=torch_columns, hosts=hosts,
        processes=tuple(processes), equivalent=plan.spec, notes=tuple(notes), sources=sources,
    )  # fmt: skip


def torchrun_places(counts: Sequence[int]) -> list[list[tuple[int, int]]]:
    """(RANK, LOCAL_RANK) torchrun gives the k-th process of each node, nodes in this order.

    torch 2.13 (static rendezvous, group rank = node index): RANK is the sum of the
    processes on lower nodes plus LOCAL_RANK.
    """
    bases = itertools.accumulate(counts, initial=0)
    return [[(base + k, k) for k in range(count)] for base, count in zip(bases, counts, strict=False)]


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad launcher command as one ConfigError line."""

    def __init__(self, launcher: str, **kwargs) -> None:
        super().__init__(prog=launcher, add_help=False, allow_abbrev=False, **kwargs)
        self.launcher = launcher

    def error(self, message: str):  # argparse would print usage and exit(2)
        raise ConfigError(f"{self.launcher}: {message}")

    def ignore(self, *names: str, flag: bool = False, nargs: int | None = None) -> None:
        """Options that do not change ranks: accepted and not modelled."""
        if flag:
            self.add_argument(*names, action="store_true", dest=f"_ignored_{names[-1].lstrip('-')}")
        else:
            self.add_argument(*names, nargs=nargs, dest=f"_ignored_{names[-1].lstrip('-')}")


def positive(name: str, value, minimum: int = 1) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def expand_hostlist(text: str) -> list[str]:
    """Slurm's compact host lists: ``node[01-03,07],gpu5`` → node01 node02 node03 node07 gpu5.

    What ``scontrol show hostnames`` prints for a node list (ranges keep their zero padding).
    """
    hosts: list[str] = []
    for item in _split_top_level(text):
        hosts.extend(_expand_one(item))
    if not hosts:
        raise ConfigError(f"the node list {text!r} is empty")
    return hosts


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"the node list {text!r} has an unmatched ']'")
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    if depth:
        raise ConfigError(f"the node list {text!r} has an unmatched '['")
    items.append(current)
    return [item.strip() for item in items if item.strip()]


def _expand_one(item: str) -> list[str]:
    start = item.find("[")
    if start < 0:
        return [item]
    end = item.index("]", start)
    prefix, body, rest = item[:start], item[start + 1 : end], item[end + 1 :]
    names = []
    for part in body.split(","):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ConfigError(f"the node list {item!r} has a range that is not numbers: {part!r}")
        width = len(low)
        last = int(high) if sep else int(low)
        if last < int(low):
            raise ConfigError(f"the node list {item!r} has a backwards range {part!r}")
        if last - int(low) > 100_000:
            raise ConfigError(f"the node list {item!r} has a range of more than 100,000 hosts")
        names += [f"{prefix}{number:0{width}d}" for number in range(int(low), last + 1)]
    return [name + tail for name in names for tail in _expand_one(rest)]
