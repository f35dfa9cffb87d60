"""Built-in scenarios: small, teaching-sized ``torch.distributed`` programs.

Each takes ``dist`` — ``torch.distributed``, already initialised — and returns what
the rank ends up with. The same functions run in the simulator and, unchanged,
under real torchrun (``simdist simulate --scenario NAME --real``). Values are small
integers stored in float tensors, so every backend computes them exactly.

The ``broken_*`` scenarios are wrong on purpose: they show what a mismatched or
skipped collective does to a job.
"""

from __future__ import annotations

import os
import time

import torch

__all__ = ["BUILTIN"]


def _rank_world(dist) -> tuple[int, int]:
    return dist.get_rank(), dist.get_world_size()


def env(dist):
    """Each rank reports what torchrun told it: RANK, LOCAL_RANK, WORLD_SIZE."""
    return {
        "rank": dist.get_rank(),
        "world_size": dist.get_world_size(),
        "RANK": int(os.environ["RANK"]),
        "LOCAL_RANK": int(os.environ["LOCAL_RANK"]),
        "WORLD_SIZE": int(os.environ["WORLD_SIZE"]),
    }


def allreduce(dist):
    """all_reduce(SUM) of [rank, 1]: every rank gets [0+1+…+(n-1), n]."""
    rank, _ = _rank_world(dist)
    t = torch.tensor([float(rank), 1.0])
    dist.all_reduce(t)
    return t.tolist()


def broadcast(dist):
    """broadcast from rank 0: every rank ends with rank 0's [42, 7]."""
    rank, _ = _rank_world(dist)
    t = torch.tensor([42.0, 7.0]) if rank == 0 else torch.zeros(2)
    dist.broadcast(t, src=0)
    return t.tolist()


def allgather(dist):
    """all_gather of [rank * 10]: every rank gets [0, 10, 20, …]."""
    rank, world = _rank_world(dist)
    parts = [torch.zeros(1) for _ in range(world)]
    dist.all_gather(parts, torch.tensor([rank * 10.0]))
    return [p.item() for p in parts]


def reduce_scatter(dist):
    """reduce_scatter_tensor: rank r gets the sum over ranks of their r-th element."""
    rank, world = _rank_world(dist)
    data = torch.arange(world, dtype=torch.float32) + 100 * rank
    out = torch.zeros(1)
    # torch 2.13 renamed reduce_scatter_tensor to reduce_scatter_single
    (getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor)(out, data)
    return out.tolist()


def all_to_all(dist):
    """all_to_all_single: rank r sends 10*r + j to rank j; rank j gets [j, 10 + j, 20 + j, …]."""
    rank, world = _rank_world(dist)
    data = torch.tensor([10.0 * rank + j for j in range(world)])
    out = torch.zeros(world)
    dist.all_to_all_single(out, data)
    return out.tolist()


def gather(dist):
    """gather to rank 0: rank 0 gets every rank's [rank * rank]; the others get nothing."""
    rank, world = _rank_world(dist)
    parts = [torch.zeros(1) for _ in range(world)] if rank == 0 else None
    dist.gather(torch.tensor([float(rank * rank)]), parts, dst=0)
    return [p.item() for p in parts] if parts is not None else None


def scatter(dist):
    """scatter from rank 0: rank r gets [100 + r]."""
    rank, world = _rank_world(dist)
    parts = [torch.tensor([100.0 + r]) for r in range(world)] if rank == 0 else None
    out = torch.zeros(1)
    dist.scatter(out, parts, src=0)
    return out.tolist()


def reduce(dist):
    """reduce(MAX) to the last rank: it gets the largest rank; the others' buffers are unspecified."""
    rank, world = _rank_world(dist)
    t = torch.tensor([float(rank)])
    dist.reduce(t, dst=world - 1, op=dist.ReduceOp.MAX)
    return t.tolist() if rank == world - 1 else None


def barrier(dist):
    """barrier: nobody leaves before everybody arrives."""
    dist.barrier()
    return dist.get_rank()


def ring(dist):
    """send/recv around a ring with batch_isend_irecv: rank r receives r - 1."""
    rank, world = _rank_world(dist)
    if world == 1:
        return rank
    sent, received = torch.tensor([float(rank)]), torch.zeros(1)
    ops = [dist.P2POp(dist.isend, sent, (rank + 1) % world), dist.P2POp(dist.irecv, received, (rank - 1) % world)]
    for request in dist.batch_isend_irecv(ops):
        request.wait()
    return received.item()


def subgroups(dist):
    """new_group per node (every rank creates every group, in the same order), then all_reduce within it."""
    rank, world = _rank_world(dist)
    node = int(os.environ["GROUP_RANK"])
    nodes = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(nodes, torch.tensor([node]))
    node_of = [int(t.item()) for t in nodes]
    groups = {n: dist.new_group([r for r in range(world) if node_of[r] == n]) for n in sorted(set(node_of))}
    t = torch.tensor([float(rank)])
    dist.all_reduce(t, group=groups[node])
    return {"node": node, "sum_of_node_ranks": t.item()}


def objects(dist):
    """all_gather_object of a dict: pickled objects travel as byte tensors (real runs need numpy)."""
    rank, world = _rank_world(dist)
    gathered = [None] * world
    dist.all_gather_object(gathered, {"rank": rank, "hello": "from " + str(rank)})
    return [g["rank"] for g in gathered]


def training(dist):
    """A training loop: 5 steps of compute (time.sleep: virtual in the simulator) and a gradient all_reduce."""
    world = dist.get_world_size()
    gradient = torch.ones(1024)
    for _ in range(5):
        time.sleep(0.2)
        dist.all_reduce(gradient)
        gradient /= world
    return gradient[0].item()


def broken_order(dist):
    """BROKEN: rank 0 calls all_reduce then broadcast, the others broadcast then all_reduce."""
    rank, _ = _rank_world(dist)
    t = torch.ones(4)
    if rank == 0:
        dist.all_reduce(t)
        dist.broadcast(t, src=0)
    else:
        dist.broadcast(t, src=0)
        dist.all_reduce(t)
    return t.tolist()


def broken_shape(dist):
    """BROKEN: the last rank all-reduces 5 elements, the others 4."""
    rank, world = _rank_world(dist)
    t = torch.ones(5 if rank == world - 1 else 4)
    dist.all_reduce(t)
    return t.tolist()


def broken_skip(dist):
    """BROKEN: the last rank skips the all_reduce everyone else calls, and exits."""
    rank, world = _rank_world(dist)
    t = torch.ones(2)
    if rank != world - 1:
        dist.all_reduce(t)
    return t.tolist()


def broken_recv(dist):
    """BROKEN: rank 0 waits for a message from rank 1 that rank 1 never sends."""
    rank, world = _rank_world(dist)
    t = torch.zeros(1)
    if rank == 0 and world > 1:
        dist.recv(t, src=1)
    dist.barrier()
    return t.tolist()


BUILTIN = {
    f.__name__: f
    for f in (env, allreduce, broadcast, allgather, reduce_scatter, all_to_all, gather, scatter, reduce, barrier, ring,
              subgroups, objects, training, broken_order, broken_shape, broken_skip, broken_recv)
}  # fmt: skip
