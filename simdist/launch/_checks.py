"""Warnings about a plan: what will go wrong, in the words torch uses when it does.

Each rule looks at a finished plan and yields :class:`PlanWarning`. Per-node findings
are grouped into one warning per rule so that a 100,000-node plan stays readable.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._addresses import is_loopback
from ._plan import NodePlan, Plan, PlanWarning

__all__ = ["check_plan"]

OMP_TEXT = (
    "Setting OMP_NUM_THREADS environment variable for each process to be 1 in default, to avoid "
    "your system being overloaded, please further tune the variable for optimal performance in "
    "your application as needed."
)



def _nodes_text(nodes: list[int]) -> str:
    if len(nodes) == 1:
        return f"node {nodes[0]}"
    shown = ", ".join(map(str, nodes[:4]))
    return f"{len(nodes)} nodes ({shown}{', …' if len(nodes) > 4 else ''})"


def check_plan(plan: Plan) -> Iterator[PlanWarning]:
    yield from _rendezvous_rules(plan)
    yield from _gpu_rules(plan)
    yield from _env_rules(plan)


def _rendezvous_rules(plan: Plan) -> Iterator[PlanWarning]:
    spec, setup = plan.spec, plan.rendezvous
    if setup.mode == "auto-c10d":
        yield PlanWarning(
            "auto_c10d",
            "torch 2.13: a single-node launch without --master-port switches to c10d on localhost:0 — "
            "MASTER_PORT is a random free port, TORCHELASTIC_RUN_ID a uuid, and --master-addr is ignored; "
            "pass --master-port to get static 127.0.0.1:29500 as older releases did",
            level="note",
        )
    if setup.mode == "standalone" and spec.max_nodes > 1:
        yield PlanWarning(
            "standalone_multi_node",
            f"--standalone with --nnodes {spec.nnodes}: every machine starts its own rendezvous on "
            "localhost, so they never meet and each fails with RendezvousTimeoutError after "
            f"join_timeout ({setup.timeout} s); use --rdzv-backend c10d --rdzv-endpoint HOST:PORT",
        )
    if "--node-rank" in setup.ignored:
        yield PlanWarning(
            "node_rank_ignored",
            "node_rank is only used for static rdzv_backend. It will be ignored for rdzv_backend=c10d. "
            "Group ranks (and so which machine runs RANK 0) are decided at rendezvous",
        )
    if setup.backend == "c10d" and setup.mode == "explicit" and not spec.rdzv_endpoint:
        yield PlanWarning(
            "master_addr_ignored",
            "master_addr is only used for static rdzv_backend and when rdzv_endpoint is not specified.",
        )
        if spec.max_nodes > 1:
            yield PlanWarning(
                "c10d_no_endpoint",
                "c10d without --rdzv-endpoint uses localhost:29400 on every machine: each one hosts its "
                "own store and waits alone until RendezvousTimeoutError",
            )
    if setup.backend == "c10d" and spec.max_nodes > 1 and setup.mode == "explicit":
        if spec.hosts is None:
            yield PlanWarning(
                "c10d_order_unknown",
                "c10d ranks agents by sorted (address, pid, local_id), not by arrival or --node-rank; "
                "shown in machine order — pass --hosts to see the order those addresses give",
                level="note",
            )
        else:
            order = ", ".join(f"{n.host}→{n.group_rank}" for n in plan.nodes_by_group_rank[:8])
            yield PlanWarning(
                "c10d_order",
                f"c10d group ranks follow the sorted agent addresses (string order): {order}"
                + (" …" if len(plan.nodes) > 8 else ""),
                level="note",
            )
    if setup.backend == "static" and spec.min_nodes != spec.max_nodes:
        yield PlanWarning(
            "static_not_elastic",
            f"static rendezvous is not elastic: with --nnodes {spec.nnodes} it waits for all "
            f"{spec.max_nodes} nodes (GROUP_WORLD_SIZE={spec.max_nodes}); use c10d for MIN:MAX",
        )
    if setup.backend == "static" and spec.max_nodes > 1:
        yield from _static_master_rules(plan)


def _static_master_rules(plan: Plan) -> Iterator[PlanWarning]:
    spec, setup = plan.spec, plan.rendezvous
    master = setup.master_addr or ""
    hosts = spec.hosts
    all_local = hosts is not None and all(is_loopback(h) for h in hosts)
    if is_loopback(master) and not all_local:
        yield PlanWarning(
            "loopback_master",
            f"MASTER_ADDR={master} on a {spec.max_nodes}-node launch: every other machine connects to "
            "itself and fails with 'DistNetworkError: The client socket has timed out after "
            f"{setup.timeout * 1000}ms while trying to connect to ({master}, {setup.master_port})'; "
            "use node 0's IP address",
        )
    elif hosts is not None and not all_local and master != hosts[0]:
        yield PlanWarning(
            "master_not_node0",
            f"MASTER_ADDR={master} is not node 0's address ({hosts[0]}): node 0 hosts the store, so "
            "the other nodes wait at the wrong machine until their connect timeout",
        )


def _gpu_rules(plan: Plan) -> Iterator[PlanWarning]:
    short: list[NodePlan] = []
    missing: list[NodePlan] = []
    duplicate: list[NodePlan] = []
    for node in plan.nodes:
        if node.visible_devices is not None:
            listed = node.visible_devices.split(",")
            if len(set(listed)) != len(listed):
                duplicate.append(node)
            if any(g.isdigit() and int(g) >= node.gpu_count for g in listed):
                missing.append(node)
        if any(g is None for g in node.gpus):
            short.append(node)
    if short:
        node = short[0]
        have = len(node.visible_devices.split(",")) if node.visible_devices else node.gpu_count
        yield PlanWarning(
            "more_procs_than_gpus",
            f"{_nodes_text([n.node_rank for n in short])}: {node.nproc} processes but {have} visible GPU(s) — "
            f"local ranks {have}..{node.nproc - 1} fail at torch.cuda.set_device(LOCAL_RANK) with "
            "'CUDA error: invalid device ordinal'",
            node=node.node_rank if len(short) == 1 else None,
        )
    if missing:
        node = missing[0]
        yield PlanWarning(
            "visible_device_missing",
            f"{_nodes_text([n.node_rank for n in missing])}: CUDA_VISIBLE_DEVICES={node.visible_devices} names a "
            f"GPU the machine does not have (it has {node.gpu_count}); CUDA hides every device after it",
            node=node.node_rank if len(missing) == 1 else None,
        )
    if duplicate:
        node = duplicate[0]
        yield PlanWarning(
            "duplicate_gpu",
            f"{_nodes_text([n.node_rank for n in duplicate])}: CUDA_VISIBLE_DEVICES={node.visible_devices} lists a "
            "GPU twice — NCCL refuses with 'Duplicate GPU detected : rank … and rank … both on CUDA device …'",
            node=node.node_rank if len(duplicate) == 1 else None,
        )


def _env_rules(plan: Plan) -> Iterator[PlanWarning]:
    spec = plan.spec
    env = spec.env
    if env.get("TORCH_ELASTIC_WORKER_IDENTICAL") == "1" and not spec.homogeneous:
        yield PlanWarning(
            "worker_identical_heterogeneous",
            "TORCH_ELASTIC_WORKER_IDENTICAL=1 makes torchrun compute RANK = GROUP_RANK × LOCAL_WORLD_SIZE "
            "+ LOCAL_RANK without asking the other nodes: with unequal --nproc, ranks overlap or leave gaps",
        )
    if "OMP_NUM_THREADS" not in env and any(n.nproc > 1 for n in plan.nodes):
        yield PlanWarning("omp_num_threads", OMP_TEXT, level="note")
