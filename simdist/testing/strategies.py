"""Hypothesis strategies for torchrun launches, for simdist's tests and for yours.

>>> from hypothesis import given
>>> from simdist.testing.strategies import launch_specs
>>> @given(launch_specs(max_nodes=4))
... def test_ranks_fit(spec): ...

Every strategy draws only launches torchrun accepts, and shrinks towards the
smallest one: one node, one process, static rendezvous, no extras.
"""

from __future__ import annotations

from hypothesis import strategies as st

from simdist.launch._spec import LaunchSpec

__all__ = ["arrival_schedules", "failure_plans", "host_addresses", "launch_specs", "nproc_lists"]


@st.composite
def nproc_lists(draw, nodes: int, max_nproc: int = 8, heterogeneous: bool = True) -> tuple[int, ...]:
    """Processes per node: equal on every node, or (when allowed) one count per node.

    Shrinks towards equal counts of 1.
    """
    if heterogeneous and draw(st.booleans()):
        return tuple(draw(st.lists(st.integers(1, max_nproc), min_size=nodes, max_size=nodes)))
    return (draw(st.integers(1, max_nproc)),) * nodes


def host_addresses(nodes: int) -> st.SearchStrategy[tuple[str, ...]]:
    """Distinct IPv4 addresses or host names, one per node (c10d ranks agents by them).

    Shrinks towards short, low addresses.
    """
    address = st.one_of(
        st.tuples(st.integers(1, 255), st.integers(0, 255)).map(lambda t: f"10.0.{t[1]}.{t[0]}"),
        st.from_regex(r"node[0-9]{1,3}", fullmatch=True),
        st.from_regex(r"[a-z]{1,6}\.cluster", fullmatch=True),
    )
    return st.lists(address, min_size=nodes, max_size=nodes, unique=True).map(tuple)


@st.composite
def launch_specs(
    draw,
    *,
    max_nodes: int = 8,
    max_nproc: int = 8,
    backends: tuple[str, ...] = ("static", "c10d"),
    heterogeneous: bool = True,
    elastic: bool = True,
    gpus: bool = True,
) -> LaunchSpec:
    """A LaunchSpec torchrun accepts: nodes, processes, rendezvous, GPUs and environment.

    ``elastic`` allows ``MIN:MAX`` node ranges for c10d; ``gpus`` draws
    ``--gpus-per-node`` and CUDA_VISIBLE_DEVICES. Shrinks towards one node with one
    process under static rendezvous.
    """
    backend = draw(st.sampled_from(backends))
    max_n = draw(st.integers(1, max_nodes))
    min_n = max_n
    if elastic and backend == "c10d" and max_n > 1 and draw(st.booleans()):
        min_n = draw(st.integers(1, max_n))
    nnodes = str(max_n) if min_n == max_n else f"{min_n}:{max_n}"
    nprocs = draw(nproc_lists(max_n, max_nproc, heterogeneous))
    hosts = draw(st.none() | host_addresses(max_n))
    options: dict = {}
    if backend == "static":
        options["master_addr"] = hosts[0] if hosts else draw(st.sampled_from(["127.0.0.1", "10.1.1.1", "head"]))
        options["master_port"] = draw(st.none() | st.integers(1024, 65535))
        options["node_rank"] = draw(st.none() | st.integers(0, max_n - 1))
    else:
        options["rdzv_endpoint"] = draw(st.sampled_from(["", "head:29400", "10.1.1.1", "[::1]:1234"]))
        options["rdzv_id"] = draw(st.sampled_from(["none", "job42"]))
        options["standalone"] = max_n == 1 and draw(st.booleans())
    if gpus and draw(st.booleans()):
        per_node = draw(st.lists(st.integers(0, 8), min_size=max_n, max_size=max_n))
        options["gpus_per_node"] = tuple(per_node)
        if draw(st.booleans()):
            options["visible_devices"] = tuple(
                draw(st.none() | st.lists(st.integers(0, 7), min_size=1, max_size=8).map(lambda ids: ",".join(map(str, ids))))
                for _ in range(max_n)
            )
    env = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "OMP_NUM_THREADS": st.sampled_from(["1", "4"]),
                "TORCH_NCCL_ASYNC_ERROR_HANDLING": st.sampled_from(["0", "3"]),
                "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": st.just("1"),
            },
        )
    )
    return LaunchSpec(
        nnodes=nnodes,
        nproc_per_node=nprocs,
        rdzv_backend=backend,
        hosts=hosts,
        role=draw(st.sampled_from(["default", "trainer"])),
        max_restarts=draw(st.integers(0, 3)),
        launcher_env=env,
        virtual_local_rank=draw(st.booleans()) if gpus else False,
        **options,
    )


def arrival_schedules(
    machines: int, *, max_delay: float = 60.0, resolution: float = 0.5
) -> st.SearchStrategy[tuple[float, ...]]:
    """When each machine's torchrun starts, in seconds from the first one.

    Times are multiples of ``resolution`` so that ties (simultaneous starts) are
    common. Shrinks towards everyone starting at 0.
    """
    steps = int(max_delay / resolution)
    return st.lists(st.integers(0, steps), min_size=machines, max_size=machines).map(
        lambda ticks: tuple(t * resolution for t in ticks)
    )


@st.composite
def failure_plans(draw, spec: LaunchSpec, *, horizon: float = 30.0, max_failures: int = 2) -> tuple:
    """Machines or single workers that die at some time: ``Failure`` values for ``simulate``.

    Shrinks towards no failure at all.
    """
    from simdist.sim._simulation import Failure

    count = draw(st.integers(0, max_failures))
    failures = []
    for _ in range(count):
        node = draw(st.integers(0, spec.max_nodes - 1))
        local = draw(st.none() | st.integers(0, spec.nprocs[node] - 1))
        at = draw(st.integers(0, int(horizon * 10))) / 10
        failures.append(Failure(node=node, at=at, local_rank=local))
    return tuple(failures)
