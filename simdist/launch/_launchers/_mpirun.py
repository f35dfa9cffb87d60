"""Open MPI's ``mpirun``: how many processes each host gets, which ranks, and the OMPI_* variables.

Rules from Open MPI 4.1 (Debian 12's ``openmpi-bin`` 4.1.4; the tests compare them with the
real ``mpirun --display-map --do-not-launch``):

- ``orte/mca/rmaps/round_robin/rmaps_rr_mappers.c``: ``orte_rmaps_rr_byslot`` fills each
  host up to its slots, then (with ``--oversubscribe``) spreads the rest evenly, the first
  hosts taking one more; ``orte_rmaps_rr_bynode`` deals an average per host, shifting what
  a host has no slots for to the others.
- ``orte/mca/rmaps/base/rmaps_base_ranking.c``: ranks go host after host when mapping by
  slot, round-robin over the hosts when mapping by node.
- ``mpirun(1)``: ``-np`` omitted means one process per slot; a ``-H`` host without ``:N``
  and a hostfile line without ``slots=`` count one slot; ``--map-by ppr:N:node`` /
  ``-npernode N`` put N on every host; variables ``OMPI_COMM_WORLD_RANK``,
  ``OMPI_COMM_WORLD_SIZE``, ``OMPI_COMM_WORLD_LOCAL_RANK``, ``OMPI_COMM_WORLD_LOCAL_SIZE``,
  ``OMPI_COMM_WORLD_NODE_RANK``.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Sequence

from ..._errors import ConfigError
from .._spec import LaunchSpec
from ._model import LauncherLayout, LauncherProcess, Parser, positive, torchrun_places

__all__ = ["mpirun_layout", "mpirun_map", "read_hostfile"]

SOURCES = (
    "Open MPI 4.1.4 orte/mca/rmaps/round_robin/rmaps_rr_mappers.c: orte_rmaps_rr_byslot, orte_rmaps_rr_bynode",
    "Open MPI 4.1.4 orte/mca/rmaps/base/rmaps_base_ranking.c: ranks by slot (host after host) or by node "
    "(round-robin)",
    "Open MPI 4.1 mpirun(1): -np, -H host:slots, --hostfile, --map-by, -npernode, OMPI_COMM_WORLD_* variables",
)
NOT_ENOUGH_SLOTS = "There are not enough slots available in the system to satisfy the {np} slots that were requested by the application"
_SLOT_LIKE = ("slot", "core", "socket", "package", "numa", "hwthread", "l1cache", "l2cache", "l3cache", "board")


def _parser() -> Parser:
    parser = Parser("mpirun")
    parser.add_argument("-np", "-n", "-c", "--np", "--n", dest="np")
    parser.add_argument("-H", "-host", "--host", action="append", dest="host")
    parser.add_argument("-hostfile", "--hostfile", "-machinefile", "--machinefile", dest="hostfile")
    parser.add_argument("--map-by", "-map-by", dest="map_by")
    parser.add_argument("--rank-by", "-rank-by", dest="rank_by")
    parser.add_argument("-npernode", "--npernode", "-N", dest="npernode")
    parser.add_argument("-pernode", "--pernode", action="store_const", const="1", dest="pernode")
    parser.add_argument("-npersocket", "--npersocket", dest="npersocket")
    parser.add_argument("--bynode", "-bynode", action="store_true")
    parser.add_argument("--byslot", "-byslot", action="store_true")
    parser.add_argument("--oversubscribe", "-oversubscribe", action="store_true")
    parser.add_argument("--nooversubscribe", "-nooversubscribe", action="store_true")
    for names in (("-x",), ("--bind-to", "-bind-to"), ("--prefix",), ("--wdir", "-wdir"), ("--output-filename",)):
        parser.ignore(*names)
    parser.ignore("--mca", "-mca", nargs=2)
    for name in ("--allow-run-as-root", "--display-map", "--display-allocation", "--tag-output", "--timestamp-output",
                 "--report-bindings", "-v", "--verbose", "-q", "--quiet", "--do-not-launch"):  # fmt: skip
        parser.ignore(name, flag=True)
    parser.add_argument("program", nargs=argparse.REMAINDER)
    return parser


def read_hostfile(text: str) -> list[tuple[str, int | None, int | None]]:
    """An Open MPI hostfile: ``host [slots=N] [max_slots=M]`` per line, ``#`` comments.

    Returns (host, slots, max_slots); slots is ``max_slots`` when only that is given (mpirun(1)),
    and None when neither is: one slot, but then mpirun insists on ``-np``.
    """
    hosts: dict[str, list] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *fields = line.split()
        slots, limit = None, None
        for field in fields:
            key, _, value = field.partition("=")
            if key in ("slots", "count", "cpu"):
                slots = positive(f"hostfile line {number}: slots", value, 0)
            elif key in ("max_slots", "max-slots"):
                limit = positive(f"hostfile line {number}: max_slots", value, 0)
            else:
                raise ConfigError(f"hostfile line {number}: unknown field {field!r} (expected slots=N or max_slots=N)")
        slots = slots if slots is not None else limit  # None: not said (one slot, but -np is then required)
        entry = hosts.setdefault(name, [None, None])
        entry[0] = slots if entry[0] is None else entry[0] + (slots or 1)  # a host listed twice adds its slots
        entry[1] = limit if limit is not None else entry[1]
    if not hosts:
        raise ConfigError("the hostfile lists no hosts")
    return [(name, slots, limit) for name, (slots, limit) in hosts.items()]


def _dash_host(values: Sequence[str]) -> list[tuple[str, int, int | None]]:
    hosts: dict[str, int] = {}
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            name, sep, count = item.strip().partition(":")
            hosts[name] = hosts.get(name, 0) + (positive(f"-H {item}", count) if sep else 1)
    return [(name, slots, None) for name, slots in hosts.items()]


def mpirun_map(slots: Sequence[int], np: int, policy: str, oversubscribe: bool, per_node: int = 0) -> list[list[int]]:
    """Ranks on each host (in host order) for ``policy`` slot, node or ppr (``per_node`` each)."""
    if policy == "ppr":
        counts = [0] * len(slots)
        left = np
        for i in range(len(slots)):
            counts[i] = min(per_node, left)
            left -= counts[i]
    elif policy == "node":
        counts = _bynode_counts(slots, np)
    else:
        counts = _byslot_counts(slots, np)
    if not oversubscribe and (sum(slots) < np or any(c > s for c, s in zip(counts, slots, strict=True))):
        raise ConfigError("mpirun: " + NOT_ENOUGH_SLOTS.format(np=np) + " (add --oversubscribe to allow it)")
    if policy == "node":  # rank by node: one rank per host per pass
        ranks: list[list[int]] = [[] for _ in slots]
        rank, left = 0, list(counts)
        while rank < np:
            for i in range(len(slots)):
                if left[i]:
                    ranks[i].append(rank)
                    rank += 1
                    left[i] -= 1
        return ranks
    ranks, rank = [], 0
    for count in counts:
        ranks.append(list(range(rank, rank + count)))
        rank += count
    return ranks


def _byslot_counts(slots: Sequence[int], np: int) -> list[int]:
    counts = [0] * len(slots)
    mapped = 0
    for i, room in enumerate(slots):  # first pass: every free slot
        take = min(room, np - mapped)
        counts[i] += take
        mapped += take
    if mapped == np:
        return counts
    left = np - mapped  # oversubscribed: spread the rest, the first hosts one more
    extra, with_one_more = divmod(left, len(slots))
    for i in range(len(slots)):
        take = min(extra + (1 if i < with_one_more else 0), np - mapped)
        counts[i] += take
        mapped += take
    return counts


def _bynode_counts(slots: Sequence[int], np: int) -> list[int]:
    """``orte_rmaps_rr_bynode``'s counts, followed step by step (including its float arithmetic)."""
    n = len(slots)
    used = [0] * n
    oversubscribed = sum(slots) < np
    mapped, nnodes = 0, n
    while True:
        left = np - mapped
        navg = left // nnodes or 1
        balance = (left - navg * nnodes) / nnodes
        extra = int(balance)
        nxtra, add_one = 0, False
        if balance - extra > 0:
            nxtra = left - (navg + extra) * nnodes
            extra += 1
            add_one = True
        nnodes = 0
        for i in range(n):
            if not oversubscribed and slots[i] <= used[i]:
                continue
            if add_one:
                if nxtra == 0:
                    extra -= 1
                    add_one = False
                else:
                    nxtra -= 1
            assign = navg + extra
            if not oversubscribed and slots[i] - used[i] < assign:
                assign = slots[i] - used[i]
                if assign == 0:
                    continue
            nnodes += 1
            take = min(assign, np - mapped)
            used[i] += take
            mapped += take
            if mapped == np:
                break
        if mapped >= np or nnodes == 0:
            break
    while mapped < np:  # fill in, one per host, until everyone is placed
        for i in range(n):
            used[i] += 1
            mapped += 1
            if mapped == np:
                break
    return used


def _policy(ns) -> tuple[str, int, bool | None]:
    """(slot|node|ppr, per-node count, oversubscribe from a modifier or None)."""
    if ns.npersocket is not None:
        raise ConfigError("mpirun: -npersocket depends on each host's sockets, which simdist does not know")
    if ns.npernode is not None or ns.pernode is not None:
        return "ppr", positive("-npernode", ns.npernode or ns.pernode), None
    if ns.bynode:
        return "node", 0, None
    if ns.map_by is None or ns.byslot:
        return "slot", 0, None
    head, *modifiers = ns.map_by.split(":")
    upper = [m.upper() for m in modifiers]
    over = True if "OVERSUBSCRIBE" in upper else False if "NOOVERSUBSCRIBE" in upper else None
    head = head.lower()
    if head == "ppr":
        if len(modifiers) < 2 or modifiers[1].lower() != "node":
            raise ConfigError(f"mpirun: --map-by {ns.map_by}: simdist models ppr:N:node only")
        return "ppr", positive("--map-by ppr:N", modifiers[0]), over
    if head == "node":
        return "node", 0, over
    if head in _SLOT_LIKE:
        return "slot", 0, over
    raise ConfigError(f"mpirun: --map-by {ns.map_by} is not modelled (slot, node, core, socket, numa, ppr:N:node are)")


def mpirun_layout(argv: Sequence[str], read: Callable[[str], str] | None = None) -> LauncherLayout:
    """The processes ``mpirun [OPTIONS] program`` starts (a leading ``mpirun``/``mpiexec`` is skipped).

    ``read`` reads a hostfile (default: from disk, relative to the current folder).
    """
    words = list(argv)
    if words and os.path.basename(words[0]) in ("mpirun", "mpiexec", "orterun"):
        words = words[1:]
    ns = _parser().parse_args(words)
    notes = []
    if ns.host and ns.hostfile:
        raise ConfigError("mpirun: give -H or --hostfile, not both (simdist does not model their intersection)")
    if ns.hostfile:
        listed = read_hostfile(_read(ns.hostfile, read))
        if ns.np is None and ns.npernode is None and ns.pernode is None and not (ns.map_by or "").startswith("ppr") \
                and any(slots is None for _, slots, _ in listed):  # fmt: skip
            raise ConfigError(
                "mpirun: Either the -host or -hostfile options were given, but the number of processes to start was "
                "omitted. This combination is not supported. (a hostfile line without slots= needs -np)"
            )
        hosts = [(name, 1 if slots is None else slots, limit) for name, slots, limit in listed]
    elif ns.host:
        hosts = _dash_host(ns.host)
    else:
        hosts = []
    policy, per_node, modifier = _policy(ns)
    if ns.rank_by is not None and ns.rank_by.split(":")[0].lower() != ("node" if policy == "node" else "slot"):
        raise ConfigError(f"mpirun: --rank-by {ns.rank_by} with this mapping is not modelled")
    if ns.np is not None:
        np = positive("-np", ns.np)
    elif policy == "ppr":
        np = per_node * max(len(hosts), 1)
    elif hosts:
        np = sum(slots for _, slots, _ in hosts)
        if np == 0:
            raise ConfigError("mpirun: the hosts have no slots and -np is missing")
    else:
        raise ConfigError("mpirun: give -np (without hosts, Open MPI counts this machine's cores)")
    if not hosts:
        hosts = [("localhost", np, None)]
        notes.append("no -H or --hostfile: every process runs on this machine (Open MPI allows one per core)")
    oversubscribe = ns.oversubscribe or bool(modifier)
    if ns.nooversubscribe or modifier is False:
        oversubscribe = False
    slots = [s for _, s, _ in hosts]
    if np > sum(slots) and any(limit is not None for _, _, limit in hosts):
        raise ConfigError("mpirun: oversubscribing hosts with max_slots is not modelled by simdist")
    placement = mpirun_map(slots, np, policy, oversubscribe, per_node)
    used = [(name, ranks) for (name, _, _), ranks in zip(hosts, placement, strict=True) if ranks]
    names = tuple(name for name, _ in used)
    counts = [len(ranks) for _, ranks in used]
    places = torchrun_places(counts)
    processes = []
    for node, (name, ranks) in enumerate(used):
        for local, rank in enumerate(ranks):
            env = {
                "OMPI_COMM_WORLD_RANK": str(rank),
                "OMPI_COMM_WORLD_SIZE": str(np),
                "OMPI_COMM_WORLD_LOCAL_RANK": str(local),
                "OMPI_COMM_WORLD_LOCAL_SIZE": str(len(ranks)),
                "OMPI_COMM_WORLD_NODE_RANK": str(local),
            }
            torch_env = {"RANK": str(rank), "LOCAL_RANK": str(local), "WORLD_SIZE": str(np),
                         "LOCAL_WORLD_SIZE": str(len(ranks)), "GROUP_RANK": str(node)}  # fmt: skip
            processes.append(
                LauncherProcess(
                    rank=rank, local_rank=local, node=node, host=name, order=local, world_size=np,
                    local_world_size=len(ranks), gpu=local, launcher_env=env, torch_env=torch_env,
                    torchrun_rank=places[node][local][0], torchrun_local_rank=local,
                )
            )  # fmt: skip
    processes.sort(key=lambda p: p.rank)
    over = [name for (name, s, _), ranks in zip(hosts, placement, strict=True) if len(ranks) > s]
    if over:
        notes.append(f"oversubscribed: {', '.join(over)} run more processes than their slots")
    if policy == "node" and any(not p.same_as_torchrun for p in processes):
        notes.append(
            "--map-by node: consecutive ranks sit on different hosts (round-robin), unlike torchrun, which "
            "numbers host after host"
        )
    if len(set(counts)) > 1:
        notes.append("uneven: hosts run " + "+".join(map(str, counts)) + " processes; LOCAL_WORLD_SIZE differs per host")
    if len(hosts) > len(used):
        notes.append(f"{len(hosts) - len(used)} host(s) get no process and are not part of the job")
    summary = f"mpirun: {np} process{'es' * (np != 1)} on {len(used)} host{'s' * (len(used) != 1)}, mapped by "
    summary += {"slot": "slot (the default)" if ns.map_by is None and not ns.byslot else "slot",
                "node": "node", "ppr": f"ppr:{per_node}:node"}[policy]  # fmt: skip
    mapping = (
        ("RANK", "OMPI_COMM_WORLD_RANK"),
        ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"),
        ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE"),
        ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"),
        ("GROUP_RANK", "(none: the host's index in mpirun's host list)"),
        ("MASTER_ADDR", "yours: -x MASTER_ADDR=<first host> (mpirun sets none)"),
    )
    equivalent = LaunchSpec(nnodes=len(used), nproc_per_node=counts, master_addr=_addr(names[0]), master_port=29500,
                            script=_script(ns.program))  # fmt: skip
    return LauncherLayout(
        launcher="mpirun", command=tuple(argv), summary=summary, mapping=mapping,
        columns=(("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD\n_RANK → RANK"),
                 ("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD\n_LOCAL_RANK\n→ LOCAL_RANK"),
                 ("OMPI_COMM_WORLD_LOCAL_SIZE", "OMPI_COMM_WORLD\n_LOCAL_SIZE →\nLOCAL_WORLD_SIZE"),
                 ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD\n_SIZE →\nWORLD_SIZE")),
        torch_columns=(),
        hosts=names, processes=tuple(processes), equivalent=equivalent, notes=tuple(notes), sources=SOURCES,
    )  # fmt: skip


def _read(path: str, read: Callable[[str], str] | None) -> str:
    if read is not None:
        return read(path)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read the hostfile {path}: {exc.strerror}") from None


def _addr(host: str) -> str:
    return host if re.fullmatch(r"[\w.:-]+", host) else "127.0.0.1"


def _script(program: Sequence[str]) -> tuple[str, ...]:
    words = list(program)
    if words and os.path.basename(words[0]).startswith("python") and len(words) > 1:
        words = words[1:]
    return tuple(words) or ("train.py",)
