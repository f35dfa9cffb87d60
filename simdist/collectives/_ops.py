"""What a rank called, and how torch prints it: operations, fingerprints, differences."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ..sim._kernel import Event

__all__ = ["OP_TYPES", "Op", "differences", "fingerprint", "red_type", "same_call"]

OP_TYPES = {
    "all_reduce": "ALLREDUCE", "broadcast": "BROADCAST", "reduce": "REDUCE", "all_gather": "ALLGATHER",
    "all_gather_into_tensor": "_ALLGATHER_BASE", "reduce_scatter": "REDUCE_SCATTER",
    "reduce_scatter_tensor": "_REDUCE_SCATTER_BASE", "all_to_all": "ALLTOALL", "all_to_all_single": "ALLTOALL_BASE",
    "gather": "GATHER", "scatter": "SCATTER", "barrier": "BARRIER", "all_reduce_coalesced": "ALLREDUCE_COALESCED",
}  # fmt: skip
DTYPE_NAMES = {
    torch.float32: "Float", torch.float64: "Double", torch.float16: "Half", torch.bfloat16: "BFloat16",
    torch.int64: "Long", torch.int32: "Int", torch.int16: "Short", torch.int8: "Char", torch.uint8: "Byte",
    torch.bool: "Bool", torch.complex64: "ComplexFloat", torch.complex128: "ComplexDouble",
}  # fmt: skip


@dataclasses.dataclass(eq=False)
class Op:
    """One call a rank made: a collective (with ``seq``) or a point-to-point message."""

    kind: str
    rank: int  # global rank of the caller
    group: tuple  # the logical group: (creation index, member global ranks)
    group_rank: int
    seq: int | None
    tensors: list[torch.Tensor]  # inputs (and outputs, for in-place ops)
    outputs: list[Any] = dataclasses.field(default_factory=list)
    reduce_op: Any = None
    root: int | None = None  # group rank of src/dst
    peer: int | None = None  # p2p: global rank of the other side (None: any source)
    tag: int = 0
    extra: dict = dataclasses.field(default_factory=dict)
    event: Event | None = None
    submitted: float = 0.0
    source: int | None = None  # p2p recv: who sent it (global rank)
    matched: bool = False  # every participant has called it: it completes on its own now

    def describe(self) -> str:
        group = "WORLD" if self.group[1] == "WORLD" else f"group{list(self.group[1])}"
        if self.kind in ("send", "recv"):
            other = "any" if self.peer is None else self.peer
            direction = "to" if self.kind == "send" else "from"
            return f"{self.kind}({direction} rank {other}, tag {self.tag})"
        details = []
        if self.tensors:
            shape = list(self.tensors[0].shape)
            details.append(f"shape={shape}, dtype={str(self.tensors[0].dtype).removeprefix('torch.')}")
        if self.root is not None:
            details.append(f"root={self.root}")
        if self.reduce_op is not None:
            details.append(f"op={red_type(self.reduce_op)}")
        return f"{self.kind}#{self.seq} on {group}" + (f" ({', '.join(details)})" if details else "")


def op_name(reduce_op) -> str:
    name = getattr(reduce_op, "name", None) or str(reduce_op)
    return str(name).split(".")[-1]


def red_type(reduce_op) -> str:
    """ReduceOp (or its RedOpType) as a plain name: SUM, AVG, …, PREMUL_SUM."""
    if hasattr(reduce_op, "op"):
        reduce_op = reduce_op.op
    return op_name(reduce_op).upper()


def _tensor_options(t: torch.Tensor) -> str:
    # torch prints the device's TensorOptions here, whose dtype is always the default
    return (
        f"TensorOptions(dtype=float (default), device={t.device.type}, layout=Strided (default), "
        "requires_grad=false (default), pinned_memory=false (default), memory_format=(nullopt))"
    )


def fingerprint(op: Op) -> str:
    """``CollectiveFingerPrint(...)`` as torch's DETAIL mode prints it."""
    if op.tensors:
        t = op.tensors[0]
        shape = ", ".join(str(d) for d in t.shape)
        dtypes = DTYPE_NAMES.get(t.dtype, str(t.dtype))
        tensor_part = f", TensorShape=[{shape}], TensorDtypes={dtypes}, TensorDeviceTypes={_tensor_options(t)}"
    else:
        tensor_part = ""
    return f"CollectiveFingerPrint(SequenceNumber={op.seq}, OpType={OP_TYPES.get(op.kind, op.kind.upper())}{tensor_part})"


def differences(a: Op, b: Op) -> str:
    """torch's 'Collectives differ in the following aspects' clause."""
    parts = []
    if a.kind != b.kind:
        parts.append(f"Op type: {OP_TYPES.get(a.kind, a.kind)}vs {OP_TYPES.get(b.kind, b.kind)}")
    elif a.tensors and b.tensors:
        if list(a.tensors[0].shape) != list(b.tensors[0].shape):
            parts.append(
                "Tensor Tensor shapes: " + "x".join(map(str, a.tensors[0].shape)) + "vs "
                + "x".join(map(str, b.tensors[0].shape))
            )  # fmt: skip
        if a.tensors[0].dtype != b.tensors[0].dtype:
            parts.append(f"Tensor Tensor dtypes: {DTYPE_NAMES.get(a.tensors[0].dtype)}vs {DTYPE_NAMES.get(b.tensors[0].dtype)}")
    if a.kind == b.kind and a.root != b.root:
        parts.append(f"Root rank: {a.root}vs {b.root}")
    if a.kind == b.kind and a.reduce_op is not None and red_type(a.reduce_op) != red_type(b.reduce_op):
        parts.append(f"Reduce op: {red_type(a.reduce_op)}vs {red_type(b.reduce_op)}")
    return "Collectives differ in the following aspects: \t" + "\n".join(parts)


def same_call(a: Op, b: Op) -> bool:
    if a.kind != b.kind or a.root != b.root:
        return False
    if (a.reduce_op is None) != (b.reduce_op is None):
        return False
    if a.reduce_op is not None and red_type(a.reduce_op) != red_type(b.reduce_op):
        return False
    if len(a.tensors) != len(b.tensors):
        return False
    return all(x.shape == y.shape and x.dtype == y.dtype for x, y in zip(a.tensors, b.tensors, strict=True))
