"""Calls gloo refuses on every rank alike (no rank waits for another), one after the other."""

import torch


def _attempt(call):
    try:
        call()
        return "ok"
    except Exception as exc:  # the refusal is the result
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def gloo_refusals(dist):
    world = dist.get_world_size()
    R = dist.ReduceOp
    checks = {
        "band_float": lambda: dist.all_reduce(torch.ones(2), op=R.BAND),
        "premul_sum": lambda: dist.all_reduce(torch.ones(2), op=dist._make_nccl_premul_sum(2.0)),
        "avg_int64": lambda: dist.all_reduce(torch.ones(2, dtype=torch.int64), op=R.AVG),
        "broadcast_bad_root": lambda: dist.broadcast(torch.ones(1), src=world + 1),
        "all_gather_bad_size": lambda: dist.all_gather([torch.zeros(2) for _ in range(world)], torch.zeros(1)),
        "min_complex": lambda: dist.all_reduce(torch.ones(2, dtype=torch.complex64), op=R.MIN),
        "send_to_self": lambda: dist.send(torch.ones(1), dst=dist.get_rank()),
    }
    return {name: _attempt(call) for name, call in checks.items()}


def async_and_p2p(dist):
    """async_op work handles, isend/irecv and recv from any source."""
    rank, world = dist.get_rank(), dist.get_world_size()
    t = torch.tensor([float(rank)])
    work = dist.all_reduce(t, async_op=True)
    work.wait()
    if rank == 0:
        got = []
        for _ in range(world - 1):
            buf = torch.zeros(1)
            src = dist.recv(buf)  # any source
            got.append((src, buf.item()))
        return {"sum": t.item(), "received": sorted(got)}
    request = dist.isend(torch.tensor([10.0 * rank]), dst=0)
    request.wait()
    return {"sum": t.item()}
