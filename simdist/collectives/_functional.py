"""torch's functional collectives (``torch.ops._c10d_functional``) over the simulated process groups.

DTensor and FSDP2's ``full_tensor()`` call collectives as operators that look up a C++
backend by device; a process group written in Python has none. While a simulation
runs, those operators get Python kernels that find the rank's simulated group by name
and run the same collective through it. Each completes before it returns (the rank
waits on the virtual clock), so ``wait_tensor`` has nothing left to wait for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.distributed as dist
import torch.distributed.distributed_c10d as c10d

__all__ = ["functional_collectives"]

_REDUCE = {"sum": dist.ReduceOp.SUM, "avg": dist.ReduceOp.AVG, "product": dist.ReduceOp.PRODUCT,
           "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}  # fmt: skip


def _group(name) -> dist.ProcessGroup:
    return c10d._resolve_process_group(name)


def _reduce_op(name: str) -> dist.ReduceOp:
    try:
        return _REDUCE[name.lower()]
    except KeyError:
        raise ValueError(f"Unrecognized reduce_op: {name}") from None


def all_reduce_(tensor: torch.Tensor, reduce_op: str, group_name) -> torch.Tensor:
    dist.all_reduce(tensor, op=_reduce_op(reduce_op), group=_group(group_name))
    return tensor


def all_reduce(tensor: torch.Tensor, reduce_op: str, group_name) -> torch.Tensor:
    return all_reduce_(tensor.clone(memory_format=torch.contiguous_format), reduce_op, group_name)


def all_reduce_coalesced_(tensors: list[torch.Tensor], reduce_op: str, group_name) -> list[torch.Tensor]:
    return [all_reduce_(t, reduce_op, group_name) for t in tensors]


def all_reduce_coalesced(tensors: list[torch.Tensor], reduce_op: str, group_name) -> list[torch.Tensor]:
    return [all_reduce(t, reduce_op, group_name) for t in tensors]


def all_gather_into_tensor_out(tensor: torch.Tensor, group_size: int, group_name, *, out: torch.Tensor) -> torch.Tensor:
    dist.all_gather_single(out, tensor.contiguous(), group=_group(group_name))
    return out


def all_gather_into_tensor(tensor: torch.Tensor, group_size: int, group_name) -> torch.Tensor:
    out = tensor.new_empty((tensor.shape[0] * group_size, *tensor.shape[1:]) if tensor.dim() else (group_size,))
    return all_gather_into_tensor_out(tensor, group_size, group_name, out=out)


def all_gather_into_tensor_coalesced(tensors: list[torch.Tensor], group_size: int, group_name) -> list[torch.Tensor]:
    return [all_gather_into_tensor(t, group_size, group_name) for t in tensors]


def reduce_scatter_tensor_out(tensor: torch.Tensor, reduce_op: str, group_size: int, group_name, *,
                              out: torch.Tensor) -> torch.Tensor:  # fmt: skip
    dist.reduce_scatter_single(out, tensor.contiguous(), op=_reduce_op(reduce_op), group=_group(group_name))
    return out


def reduce_scatter_tensor(tensor: torch.Tensor, reduce_op: str, group_size: int, group_name) -> torch.Tensor:
    out = tensor.new_empty((tensor.shape[0] // group_size, *tensor.shape[1:]))
    return reduce_scatter_tensor_out(tensor, reduce_op, group_size, group_name, out=out)


def reduce_scatter_tensor_coalesced(tensors: list[torch.Tensor], reduce_op: str, group_size: int,
                                    group_name) -> list[torch.Tensor]:  # fmt: skip
    return [reduce_scatter_tensor(t, reduce_op, group_size, group_name) for t in tensors]


def all_to_all_single(tensor: torch.Tensor, output_split_sizes, input_split_sizes, group_name) -> torch.Tensor:
    group = _group(group_name)
    rows = sum(output_split_sizes) if output_split_sizes else tensor.shape[0]
    out = tensor.new_empty((rows, *tensor.shape[1:]))
    dist.all_to_all_single(out, tensor.contiguous(), list(output_split_sizes) or None, list(input_split_sizes) or None,
                           group=group)  # fmt: skip
    return out


def broadcast_(tensor: torch.Tensor, src: int, group_name) -> torch.Tensor:
    group = _group(group_name)
    dist.broadcast(tensor, src=dist.get_global_rank(group, src), group=group)
    return tensor


def broadcast(tensor: torch.Tensor, src: int, group_name) -> torch.Tensor:
    return broadcast_(tensor.clone(memory_format=torch.contiguous_format), src, group_name)


def wait_tensor(tensor: torch.Tensor) -> torch.Tensor:
    return tensor  # every simulated functional collective has completed when it returns


_KERNELS = {
    "all_reduce": all_reduce, "all_reduce_": all_reduce_, "all_reduce_coalesced": all_reduce_coalesced,
    "all_reduce_coalesced_": all_reduce_coalesced_, "all_gather_into_tensor": all_gather_into_tensor,
    "all_gather_into_tensor_out": all_gather_into_tensor_out,
    "all_gather_into_tensor_coalesced": all_gather_into_tensor_coalesced,
    "reduce_scatter_tensor": reduce_scatter_tensor, "reduce_scatter_tensor_out": reduce_scatter_tensor_out,
    "reduce_scatter_tensor_coalesced": reduce_scatter_tensor_coalesced, "all_to_all_single": all_to_all_single,
    "broadcast": broadcast, "broadcast_": broadcast_, "wait_tensor": wait_tensor,
}  # fmt: skip


@contextlib.contextmanager
def functional_collectives(devices: tuple[str, ...] = ("CPU",)) -> Iterator[None]:
    """Route ``_c10d_functional`` operators to the simulated groups while the block runs."""
    import warnings

    library = torch.library.Library("_c10d_functional", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding a previously registered kernel": on purpose, undone below
        for name, kernel in _KERNELS.items():
            if hasattr(torch.ops._c10d_functional, name):
                for device in devices:
                    library.impl(name, kernel, device)
    try:
        yield
    finally:
        library._destroy()
