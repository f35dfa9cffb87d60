"""LaunchSpec: everything a torchrun command line (and the machines it runs on) says.

A LaunchSpec is what the user typed, normalised and validated once. The launch that
torchrun 2.13 actually performs differs from what was typed in a few well-hidden ways
(``--standalone``, the single-node auto-c10d switch, c10d ignoring ``--node-rank``);
:func:`resolve_rendezvous` spells those out as a :class:`RendezvousSetup`.

Facts used here come from torch 2.13's ``torch/distributed/run.py``,
``launcher/api.py`` and ``elastic/rendezvous/*``; tests compare against them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._errors import ConfigError

__all__ = [
    "LaunchSpec",
    "RendezvousSetup",
    "parse_endpoint",
    "parse_nnodes",
    "resolve_rendezvous",
]

DEFAULT_MASTER_ADDR = "127.0.0.1"
DEFAULT_MASTER_PORT = 29500  # run.py: used when --master-port is absent (after auto-c10d)
DEFAULT_C10D_PORT = 29400  # c10d_rendezvous_backend.py: endpoint without a port
DEFAULT_SIGNALS = "SIGTERM,SIGINT,SIGHUP,SIGQUIT"

# Rendezvous timeouts torchrun uses unless --rdzv-conf says otherwise (seconds).
STATIC_TIMEOUT = 900  # LaunchConfig.__post_init__ always sets rdzv_configs["timeout"]
C10D_TIMEOUTS = {"join_timeout": 600, "last_call_timeout": 30, "close_timeout": 30, "heartbeat_timeout": 5}

# What torchrun sets for each worker (besides TORCHELASTIC_*): never inherited from a launcher's shell.
WORKER_ENV_KEYS = (
    "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
    "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT",
)  # fmt: skip

# Variables in torchrun's *own* environment that change what its workers get.
LAUNCHER_ENV_KEYS = (
    "OMP_NUM_THREADS",
    "TORCH_NCCL_ASYNC_ERROR_HANDLING",
    "TORCH_ELASTIC_WORKER_IDENTICAL",
    "TORCH_DISABLE_SHARE_RDZV_TCP_STORE",
    "TORCHELASTIC_ENABLE_FILE_TIMER",
    "TORCHELASTIC_TIMER_FILE",
)

KNOWN_BACKENDS = ("static", "c10d")
UNMODELLED_BACKENDS = ("etcd", "etcd-v2")
_RDZV_CONF_INT_KEYS = (
    "timeout",
    "join_timeout",
    "last_call_timeout",
    "close_timeout",
    "heartbeat_timeout",
    "keep_alive_interval",
    "keep_alive_max_attempt",
    "read_timeout",
)
_HOSTNAME = re.compile(r"^[\w.:-]+$")  # the check torch applies to endpoint hosts


def parse_nnodes(nnodes: int | str) -> tuple[int, int]:
    """Parse ``--nnodes`` as torchrun does: ``N`` or ``MIN:MAX`` with ``0 < MIN <= MAX``."""
    text = str(nnodes).strip()
    parts = text.split(":")
    if len(parts) > 2:
        raise ConfigError(f'--nnodes {text!r} is not in "MIN:MAX" format')
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--nnodes must be a number N or a range MIN:MAX, got {text!r}") from None
    low, high = numbers[0], numbers[-1]
    if low <= 0:
        raise ConfigError(f"--nnodes {text!r}: the number of nodes must be at least 1")
    if low > high:
        raise ConfigError(f"--nnodes {text!r}: MIN ({low}) is larger than MAX ({high})")
    return low, high


def parse_endpoint(endpoint: str, default_port: int | None) -> tuple[str, int | None]:
    """Split ``HOST[:PORT]`` (``[v6]:PORT`` too) with torch's rules and messages."""
    text = endpoint.strip()
    if not text:
        return "localhost", default_port
    if text.startswith("[") and text.endswith("]"):
        host, rest = text, []
    else:
        host, *rest = text.rsplit(":", 1)
    if len(host) > 1 and host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    port = default_port
    if rest:
        if not re.fullmatch(r"[0-9]{1,5}", rest[0]) or int(rest[0]) >= 2**16:
            raise ConfigError(
                f"The port number of the rendezvous endpoint '{text}' must be an integer between 0 and 65536."
            )
        port = int(rest[0])
    if not _HOSTNAME.match(host):
        raise ConfigError(
            f"The hostname of the rendezvous endpoint '{text}' must be a dot-separated list of "
            "labels, an IPv4 address, or an IPv6 address."
        )
    return host, port


def _per_node(name: str, value, count: int, convert) -> tuple:
    """Broadcast one value to every node, or check a per-node list has one entry a node."""
    if isinstance(value, str) and "," in value and name in ("--nproc", "--gpus-per-node", "--role"):
        value = [v.strip() for v in value.split(",")]
    if isinstance(value, (str, int)) or value is None:
        return (convert(value),) * count
    items = tuple(convert(v) for v in value)
    if len(items) == 1:
        return items * count
    if len(items) != count:
        raise ConfigError(
            f"{name} lists {len(items)} values but there are {count} nodes; give one value, or one per node"
        )
    return items


def _positive_int(name: str, minimum: int):
    def convert(value) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {value!r}") from None
        if number < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {number}")
        return number

    return convert


def _visible_devices(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text or any(not item.strip() for item in text.split(",")):
        raise ConfigError(f"CUDA_VISIBLE_DEVICES {value!r} has an empty entry")
    return ",".join(item.strip() for item in text.split(","))


def _pairs(name: str, value) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return _rdzv_conf_pairs(value)
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


def _rdzv_conf_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``k=v,k2=v2`` with torch's ``_parse_rendezvous_config`` rules and messages."""
    pairs: list[tuple[str, str]] = []
    if not text.strip():
        return ()
    for item in text.strip().split(","):
        key, *values = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(
                "The rendezvous configuration string must be in format <key1>=<value1>,...,<keyN>=<valueN>."
            )
        value = values[0].strip() if values else ""
        if not value:
            raise ConfigError(f"The rendezvous configuration option '{key}' must have a value specified.")
        pairs.append((key, value))
    return tuple(pairs)


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchSpec:
    """One torchrun launch across one or more machines.

    Per-node fields accept one value for every node or a sequence with one value per
    node (index = the machine, i.e. the ``--node-rank`` it would get under static
    rendezvous). Values are normalised, so ``repr`` is valid Python:

    >>> LaunchSpec(nnodes=2, nproc_per_node=2).nproc_per_node
    (2, 2)
    """

    nnodes: int | str = 1
    nproc_per_node: int | Sequence[int] = 1
    node_rank: int | None = None  # the machine the user is on, if any (highlighted)
    master_addr: str = DEFAULT_MASTER_ADDR
    master_port: int | None = None  # None: absent, which matters in 2.13 (auto-c10d)
    rdzv_backend: str = "static"
    rdzv_endpoint: str = ""
    rdzv_id: str = "none"
    rdzv_conf: str | Mapping[str, object] | tuple[tuple[str, str], ...] = ()
    standalone: bool = False
    max_restarts: int = 0
    role: str | Sequence[str] = "default"
    gpus_per_node: int | Sequence[int] | None = None  # None: as many GPUs as processes
    visible_devices: str | Sequence[str | None] | None = None  # CUDA_VISIBLE_DEVICES per node
    hosts: str | Sequence[str] | None = None  # each agent's address (--local-addr / FQDN)
    virtual_local_rank: bool = False
    log_dir: str | None = None
    signals_to_handle: str = DEFAULT_SIGNALS
    launcher_env: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    script: Sequence[str] = ("train.py",)
    module: bool = False
    no_python: bool = False
    _bounds: tuple[int, int] = field(default=(1, 1), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        low, high = parse_nnodes(self.nnodes)
        put = object.__setattr__  # frozen: normalise in place once, here
        put(self, "_bounds", (low, high))
        put(self, "nnodes", str(low) if low == high else f"{low}:{high}")
        put(self, "nproc_per_node", _per_node("--nproc", self.nproc_per_node, high, _positive_int("--nproc", 1)))
        put(self, "role", _per_node("--role", self.role, high, _role))
        if self.gpus_per_node is not None:
            put(
                self,
                "gpus_per_node",
                _per_node("--gpus-per-node", self.gpus_per_node, high, _positive_int("--gpus-per-node", 0)),
            )
        if self.visible_devices is not None:
            put(self, "visible_devices", _per_node("--cuda-visible-devices", self.visible_devices, high, _visible_devices))
        if self.hosts is not None:
            hosts = self.hosts.split(",") if isinstance(self.hosts, str) else list(self.hosts)
            hosts = tuple(h.strip() for h in hosts)
            if len(hosts) != high:
                raise ConfigError(f"--hosts lists {len(hosts)} addresses but there are {high} nodes")
            for host in hosts:
                if not host or not _HOSTNAME.match(host.strip("[]")):
                    raise ConfigError(f"--hosts: {host!r} is not a hostname or IP address")
            put(self, "hosts", hosts)
        put(self, "rdzv_conf", _pairs("--rdzv-conf", self.rdzv_conf))
        put(self, "launcher_env", tuple(sorted(_pairs("--env", self.launcher_env))))
        put(self, "script", tuple(self.script))
        self._validate(high)

    def _validate(self, max_nodes: int) -> None:
        if self.rdzv_backend not in KNOWN_BACKENDS:
            if self.rdzv_backend in UNMODELLED_BACKENDS:
                raise ConfigError(
                    f"--rdzv-backend {self.rdzv_backend} is a real torchrun backend but simdist models "
                    "only static and c10d"
                )
            raise ConfigError(
                f"unknown --rdzv-backend {self.rdzv_backend!r}: torchrun 2.13 knows static, c10d, etcd, etcd-v2"
            )
        if self.node_rank is not None and not 0 <= self.node_rank < max_nodes:
            raise ConfigError(
                f"--node-rank {self.node_rank} is out of range for --nnodes {self.nnodes}: node ranks are "
                f"0..{max_nodes - 1} (torchrun would start and wait for the missing node until it times out)"
            )
        if self.master_port is not None and not 1 <= self.master_port <= 65535:
            raise ConfigError(f"--master-port must be between 1 and 65535, got {self.master_port}")
        if not self.master_addr or not _HOSTNAME.match(self.master_addr.strip("[]")):
            raise ConfigError(f"--master-addr {self.master_addr!r} is not a hostname or IP address")
        if self.max_restarts < 0:
            raise ConfigError("--max-restarts must be >= 0")  # torchrun: AssertionError
        if self.rdzv_endpoint:
            parse_endpoint(self.rdzv_endpoint, None)
        for key, value in self.rdzv_conf:
            if key in _RDZV_CONF_INT_KEYS and not re.fullmatch(r"-?[0-9]+", value):
                raise ConfigError(f"--rdzv-conf {key}={value}: the value must be an integer number of seconds")
        if not self.script:
            raise ConfigError("the training script is missing")
        if self.no_python and self.module:
            raise ConfigError("Don't use both the '--no-python' flag and the '--module' flag at the same time.")

    # -- convenience views -------------------------------------------------------

    @property
    def min_nodes(self) -> int:
        return self._bounds[0]

    @property
    def max_nodes(self) -> int:
        return self._bounds[1]

    @property
    def nprocs(self) -> tuple[int, ...]:
        """Processes per node, one entry a node."""
        return self.nproc_per_node  # type: ignore[return-value]

    @property
    def world_size(self) -> int:
        return sum(self.nprocs)

    @property
    def homogeneous(self) -> bool:
        return len(set(self.nprocs)) == 1

    @property
    def env(self) -> dict[str, str]:
        """The launcher environment torchrun reads (OMP_NUM_THREADS, …)."""
        return dict(self.launcher_env)  # type: ignore[arg-type]

    @property
    def rdzv_options(self) -> dict[str, str]:
        return dict(self.rdzv_conf)  # type: ignore[arg-type]


def _role(value) -> str:
    text = str(value).strip()
    if not text:
        raise ConfigError("--role must not be empty")
    return text


Mode = Literal["explicit", "standalone", "auto-c10d"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RendezvousSetup:
    """The rendezvous torchrun 2.13 really performs for a LaunchSpec.

    ``master_addr``/``master_port`` are what workers get as MASTER_ADDR/MASTER_PORT;
    ``None`` means it is decided at run time (an ephemeral port, the rank-0 agent's
    FQDN). ``run_id`` is ``None`` when torchrun draws a uuid4.
    """

    backend: str
    mode: Mode
    endpoint_host: str
    endpoint_port: int | None
    run_id: str | None
    master_addr: str | None
    master_port: int | None
    use_agent_store: bool
    timeout: int  # static: store wait; c10d: join_timeout
    last_call_timeout: int
    ignored: tuple[str, ...]  # what the user typed that torchrun will ignore

    @property
    def endpoint(self) -> str:
        host = f"[{self.endpoint_host}]" if ":" in self.endpoint_host else self.endpoint_host
        return f"{host}:{self.endpoint_port if self.endpoint_port is not None else '?'}"


def resolve_rendezvous(spec: LaunchSpec, group_rank0_host: str | None = None) -> RendezvousSetup:
    """Apply torchrun 2.13's rules (``run.run`` and ``config_from_args``) to a spec.

    ``group_rank0_host`` is the address of the agent that gets group rank 0 when it is
    known (c10d publishes it as MASTER_ADDR).
    """
    conf = spec.rdzv_options
    env = spec.env
    ignored: list[str] = []
    backend, endpoint, run_id, mode = spec.rdzv_backend, spec.rdzv_endpoint, spec.rdzv_id, "explicit"
    if spec.standalone:
        mode = "standalone"
    elif backend == "static" and not endpoint and spec.master_port is None and spec.max_nodes == 1:
        mode = "auto-c10d"  # new in 2.13: a single-node launch without --master-port uses c10d
    if mode != "explicit":
        if spec.rdzv_backend != "static" or spec.rdzv_endpoint or spec.rdzv_id != "none":
            ignored.append("--rdzv-backend/--rdzv-endpoint/--rdzv-id")
        backend, endpoint, run_id = "c10d", "localhost:0", None
    master_port = spec.master_port if spec.master_port is not None else DEFAULT_MASTER_PORT
    if backend == "static":
        if not endpoint:
            host = f"[{spec.master_addr.strip('[]')}]" if ":" in spec.master_addr else spec.master_addr
            endpoint = f"{host}:{master_port}"
        host, port = parse_endpoint(endpoint, None)
        if port is None:
            raise ConfigError(f"port is missing in endpoint: {endpoint}. Try to specify --master-port")
        if spec.rdzv_endpoint and (spec.master_port is not None or spec.master_addr != DEFAULT_MASTER_ADDR):
            ignored.append("--master-addr/--master-port (static uses --rdzv-endpoint)")
        return RendezvousSetup(
            backend="static",
            mode="explicit",
            endpoint_host=host,
            endpoint_port=port,
            run_id=run_id,
            master_addr=host,
            master_port=port,
            use_agent_store=True,
            timeout=int(conf.get("timeout", STATIC_TIMEOUT)),
            last_call_timeout=0,
            ignored=tuple(ignored),
        )
    host, port = parse_endpoint(endpoint, DEFAULT_C10D_PORT)
    if spec.node_rank not in (None, 0):
        ignored.append("--node-rank")
    if spec.master_addr != DEFAULT_MASTER_ADDR or spec.master_port is not None:
        ignored.append("--master-addr/--master-port")
    use_agent_store = env.get("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "0") != "1"
    return RendezvousSetup(
        backend="c10d",
        mode=mode,  # type: ignore[arg-type]
        endpoint_host=host,
        endpoint_port=port,
        run_id=run_id,
        master_addr=group_rank0_host,
        master_port=None,
        use_agent_store=use_agent_store,
        timeout=int(conf.get("join_timeout", C10D_TIMEOUTS["join_timeout"])),
        last_call_timeout=int(conf.get("last_call_timeout", C10D_TIMEOUTS["last_call_timeout"])),
        ignored=tuple(ignored),
    )
