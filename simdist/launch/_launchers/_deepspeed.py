"""The ``deepspeed`` launcher: hostfile slots, --include/--exclude, and its own rank rule.

Rules from DeepSpeed 0.19.5:

- ``deepspeed/launcher/runner.py``: the hostfile is ``host slots=N`` lines (comments and
  blank lines skipped, a host twice is an error), default ``/job/hostfile``;
  ``--include``/``--exclude`` take ``host[:slot,slot]@host…`` (``parse_resource_filter``,
  slots sorted, hosts kept in hostfile order); ``--num_nodes N`` keeps the first N hosts;
  ``--num_gpus G`` gives *every* host slots 0..G-1, whatever its ``slots=``;
  ``--master_port`` defaults to 29500; without ``--master_addr`` the first host's first
  ``hostname -I`` address is used.
- ``deepspeed/launcher/launch.py`` (run on every host): global ranks go host after host in
  hostfile order; ``WORLD_SIZE`` is the number of slots in use; ``LOCAL_RANK = RANK %
  LOCAL_SIZE`` (not the process' index on the host); ``CUDA_VISIBLE_DEVICES`` is the host's
  slot list; ``CROSS_RANK``/``CROSS_SIZE`` are the host's index and the host count; each
  process also gets ``--local_rank=N`` as an argument unless ``--no_local_rank``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence

from ..._errors import ConfigError
from .._spec import LaunchSpec
from ._model import LauncherLayout, LauncherProcess, Parser, torchrun_places

__all__ = ["deepspeed_layout", "parse_hostfile", "resource_filter"]

SOURCES = (
    "DeepSpeed 0.19.5 deepspeed/launcher/runner.py: _parse_hostfile, parse_resource_filter, "
    "parse_inclusion_exclusion, --num_nodes/--num_gpus",
    "DeepSpeed 0.19.5 deepspeed/launcher/launch.py: global_rank_mapping, LOCAL_RANK = RANK % LOCAL_SIZE, "
    "CROSS_RANK/CROSS_SIZE, --local_rank argument",
)
DEFAULT_HOSTFILE = "/job/hostfile"
_LINE = re.compile(r"^(\S+)\s+slots=(\d+)")


def parse_hostfile(text: str) -> dict[str, int]:
    """``host slots=N`` per line, as ``_parse_hostfile`` reads it (same errors)."""
    pool: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or not line:
            continue
        match = _LINE.search(line)
        if not match:
            raise ConfigError(f"deepspeed: Hostfile contains a bad entry: {line}, unable to proceed with launching")
        host = match.group(1)
        if host in pool:
            raise ConfigError(f"deepspeed: Hostfile contains multiple entries for {host}, unable to proceed with launching")
        pool[host] = int(match.group(2))
    if not pool:
        raise ConfigError("deepspeed: Hostfile is empty or not formatted correctly, unable to proceed with launching.")
    return pool


def _node_configs(text: str) -> dict[str, list[int]]:
    configs: dict[str, list[int]] = {}
    for item in text.split("@"):
        if item.count(":") > 1:
            raise ConfigError(f"deepspeed: cannot parse {item!r}: expected HOST or HOST:SLOT,SLOT")
        host, sep, slots = item.partition(":")
        try:
            numbers = [int(s) for s in slots.split(",")] if sep else []
        except ValueError:
            raise ConfigError(f"deepspeed: slots in {item!r} must be integers") from None
        configs.setdefault(host, []).extend(numbers)
    return {host: sorted(set(slots)) for host, slots in configs.items()}


def resource_filter(hosts: dict[str, list[int]], include: str = "", exclude: str = "") -> dict[str, list[int]]:
    """``parse_resource_filter``: keep (include) or drop (exclude) hosts and slots; hostfile order kept."""
    if include and exclude:
        raise ConfigError("deepspeed: include_str and exclude_str are mutually exclusive.")
    if not include and not exclude:
        return dict(hosts)
    filtered: dict[str, list[int]] = {} if include else {h: list(s) for h, s in hosts.items()}
    for host, slots in _node_configs(include or exclude).items():
        if host not in hosts:
            raise ConfigError(f"deepspeed: Hostname '{host}' not found in hostfile")
        for slot in slots:
            if slot not in hosts[host]:
                raise ConfigError(f"deepspeed: No slot '{slot}' specified on host '{host}'")
        if slots:
            if include:
                filtered[host] = slots
            else:
                filtered[host] = [s for s in filtered[host] if s not in slots]
        else:
            filtered[host] = list(hosts[host]) if include else []
    return {h: list(dict.fromkeys(filtered[h])) for h in hosts if h in filtered and filtered[h]}


def _parser() -> Parser:
    parser = Parser("deepspeed")
    parser.add_argument("-H", "--hostfile", default=DEFAULT_HOSTFILE)
    parser.add_argument("-i", "--include", default="")
    parser.add_argument("-e", "--exclude", default="")
    parser.add_argument("--num_nodes", type=int, default=-1)
    parser.add_argument("--num_gpus", "--num_accelerators", type=int, default=-1)
    parser.add_argument("--master_port", type=int, default=29500)
    parser.add_argument("--master_addr", default="")
    parser.add_argument("--launcher", default="pdsh")
    parser.add_argument("--node_rank", type=int, default=-1)
    for flag in ("--no_local_rank", "--no_python", "--module", "--no_ssh", "--force_multi", "--elastic_training",
                 "--bind_cores_to_rank", "--no_ssh_check", "--save_pid"):  # fmt: skip
        parser.add_argument(flag, action="store_true")
    for name in ("--launcher_args", "--ssh_port", "--bind_core_list", "--log_level", "--autotuning",
                 "--enable_each_rank_log", "--min_elastic_nodes", "--max_elastic_nodes"):  # fmt: skip
        parser.ignore(name)
    parser.ignore("--quiet", "-q", flag=True)
    parser.add_argument("program", nargs=argparse.REMAINDER)
    return parser


def deepspeed_layout(argv: Sequence[str], read: Callable[[str], str] | None = None) -> LauncherLayout:
    """The processes ``deepspeed [OPTIONS] script`` starts (a leading ``deepspeed`` word is skipped)."""
    words = list(argv)
    if words and words[0] == "deepspeed":
        words = words[1:]
    ns = _parser().parse_args(words)
    if ns.launcher.lower() != "pdsh":
        raise ConfigError(f"deepspeed: --launcher {ns.launcher} hands ranks to another launcher; simdist models pdsh")
    if ns.elastic_training:
        raise ConfigError("deepspeed: --elastic_training runs torch elastic agents; simdist models the default launcher")
    if (ns.num_nodes >= 0 or ns.num_gpus >= 0) and (ns.include or ns.exclude):
        raise ConfigError("deepspeed: Cannot specify num_nodes/gpus with include/exclude")
    notes = []
    text = _read(ns.hostfile, read)
    if text is None:
        if ns.num_gpus <= 0:
            raise ConfigError(
                f"deepspeed: no hostfile at {ns.hostfile}: DeepSpeed would use this machine's GPUs; "
                "give --hostfile, or --num_gpus for a single machine"
            )
        pool = {"localhost": ns.num_gpus}
        notes.append(f"no hostfile at {ns.hostfile}: one machine, localhost")
    else:
        pool = parse_hostfile(text)
    # parse_inclusion_exclusion: a host named in --include starts from the slots named there
    # (none if it is named alone, which leaves it empty: DeepSpeed 0.19.5 then has nothing to run).
    named = _node_configs(ns.include) if ns.include else {}
    active = {host: named.get(host, list(range(slots))) for host, slots in pool.items()}
    bare = [h for h, s in named.items() if h in pool and not s]
    active = resource_filter(active, ns.include, ns.exclude)
    if bare and not active:
        raise ConfigError(
            f"deepspeed: --include {ns.include}: a host named without slots gets none in DeepSpeed 0.19.5 "
            f"(parse_inclusion_exclusion), so nothing runs; name its slots, e.g. {bare[0]}:0,1"
        )
    if bare:
        notes.append(f"--include names {', '.join(bare)} without slots: DeepSpeed 0.19.5 gives it none and drops it")
    if ns.num_nodes > 0:
        active = dict(list(active.items())[: ns.num_nodes])
    if ns.num_gpus > 0:
        short = [h for h, s in pool.items() if h in active and s < ns.num_gpus]
        if short:
            notes.append(
                f"--num_gpus {ns.num_gpus} gives every host GPUs 0..{ns.num_gpus - 1}, even {', '.join(short)} "
                "whose hostfile line has fewer slots"
            )
        active = {host: list(range(ns.num_gpus)) for host in active}
    if not active:
        raise ConfigError("deepspeed: no host is left after --include/--exclude/--num_nodes")
    hosts = tuple(active)
    world = sum(len(slots) for slots in active.values())
    master_addr = ns.master_addr or None
    counts = [len(active[h]) for h in hosts]
    places = torchrun_places(counts)
    processes, rank = [], 0
    for node, host in enumerate(hosts):
        slots = active[host]
        for order, _gid in enumerate(slots):
            local = rank % len(slots)
            env = {
                "RANK": str(rank), "LOCAL_RANK": str(local), "WORLD_SIZE": str(world),
                "LOCAL_SIZE": str(len(slots)), "CROSS_RANK": str(node), "CROSS_SIZE": str(len(hosts)),
                "CUDA_VISIBLE_DEVICES": ",".join(map(str, slots)), "MASTER_ADDR": master_addr,
                "MASTER_PORT": str(ns.master_port),
            }  # fmt: skip
            torch_env = {"RANK": str(rank), "LOCAL_RANK": str(local), "WORLD_SIZE": str(world),
                         "LOCAL_WORLD_SIZE": str(len(slots)), "GROUP_RANK": str(node)}  # fmt: skip
            processes.append(
                LauncherProcess(
                    rank=rank, local_rank=local, node=node, host=host, order=order, world_size=world,
                    local_world_size=len(slots), gpu=slots[local], launcher_env=env, torch_env=torch_env,
                    args=() if ns.no_local_rank else (f"--local_rank={local}",),
                    torchrun_rank=places[node][order][0], torchrun_local_rank=order,
                )
            )  # fmt: skip
            rank += 1
    shifted = sorted({p.host for p in processes if p.local_rank != p.order})
    if shifted:
        notes.append(
            "uneven slots: LOCAL_RANK = RANK % LOCAL_SIZE, so on " + ", ".join(shifted) + " the first process started "
            "is not LOCAL_RANK 0 (torchrun would number them 0, 1, …); each still gets a different GPU"
        )
    if len(set(counts)) > 1:
        notes.append("uneven: hosts run " + "+".join(map(str, counts)) + " processes; WORLD_SIZE counts slots in use")
    if master_addr is None:
        notes.append(f"no --master_addr: DeepSpeed asks {hosts[0]} for `hostname -I` and uses its first address")
    if any(slots != list(range(len(slots))) for slots in active.values()):
        notes.append("CUDA_VISIBLE_DEVICES lists each host's slots, so GPU numbers in the script start at 0 again")
    summary = (f"deepspeed: {world} process{'es' * (world != 1)} on {len(hosts)} host{'s' * (len(hosts) != 1)} "
               f"({' + '.join(map(str, counts))} slots in use), ranks host after host in hostfile order")  # fmt: skip
    mapping = (
        ("RANK", "RANK (DeepSpeed sets it)"),
        ("LOCAL_RANK", "LOCAL_RANK = RANK % LOCAL_SIZE (and --local_rank=N)"),
        ("WORLD_SIZE", "WORLD_SIZE = slots in use"),
        ("LOCAL_WORLD_SIZE", "LOCAL_SIZE"),
        ("GROUP_RANK", "CROSS_RANK"),
        ("MASTER_ADDR", "--master_addr, else the first host's `hostname -I`"),
    )
    script = tuple(ns.program) or ("train.py",)
    equivalent = LaunchSpec(
        nnodes=len(hosts), nproc_per_node=counts, master_addr=master_addr or "127.0.0.1", master_port=ns.master_port,
        visible_devices=[",".join(map(str, active[h])) for h in hosts], script=script,
    )  # fmt: skip
    return LauncherLayout(
        launcher="deepspeed", command=tuple(argv), summary=summary, mapping=mapping,
        columns=(("RANK", "RANK"), ("LOCAL_RANK", "LOCAL_RANK\n= RANK %\nLOCAL_SIZE"), ("LOCAL_SIZE", "LOCAL_SIZE"),
                 ("WORLD_SIZE", "WORLD_SIZE"), ("CUDA_VISIBLE_DEVICES", "CUDA_VISIBLE\n_DEVICES")),
        torch_columns=(), hosts=hosts, processes=tuple(processes),
        equivalent=equivalent, notes=tuple(notes), sources=SOURCES,
    )  # fmt: skip


def _read(path: str, read: Callable[[str], str] | None) -> str | None:
    if read is not None:
        return read(path)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"deepspeed: cannot read the hostfile {path}: {exc.strerror}") from None
