"""The simulated backend: a ``torch.distributed.ProcessGroup`` whose collectives go to the engine.

torch's Python layer (``dist.all_reduce`` and friends) does the argument checking
and group bookkeeping, then calls these methods with tensors and options. Here we
apply what the simulated backend (gloo or NCCL) itself refuses, with its message,
and hand the call to the :class:`CollectiveEngine`. Blocking happens in
:meth:`SimWork.wait`, which hands the rank's baton back to the kernel until the
operation completes. C++ callers (DDP's reducer) ask for a future instead: it is
returned completed, after the same wait, so no C++ frame ever blocks on simdist.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
import torch.distributed.distributed_c10d as c10d

from .._errors import ProcessAborted
from ._ops import Op, red_type
from ._torch_world import IdentityRanks

if TYPE_CHECKING:
    from ._engine import CollectiveEngine

__all__ = ["RankRuntime", "SimProcessGroup", "SimWork"]

_FLOATING = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
# With more ranks than threads, ranks are greenlets, which must not wait below C++ frames.
CPP_REFUSAL = (
    "simdist: this collective is called from inside torch's C++ code (DDP or FSDP internals); with this many "
    "ranks simdist runs them as greenlets, which cannot wait there: simulate fewer ranks (each then gets a "
    "thread of its own)"
)
_PYTHON_CALLERS = ("distributed_c10d.py", "c10d_logger.py", "_functional.py", "_process_group.py")


def _called_from_python_api(frame) -> bool:
    """Did torch's Python API (or ours) call this process-group method, rather than C++?"""
    return frame is not None and frame.f_code.co_filename.endswith(_PYTHON_CALLERS)


class RankRuntime:
    """What a rank's ProcessGroups share: the engine, the rank, and how to block.

    ``block(event)`` hands the baton back to the kernel until ``event`` has fired (the
    program layer provides it: this layer knows nothing of threads).
    """

    def __init__(self, engine: CollectiveEngine, rank: int, backend: str, block: Callable[[Any], Any],
                 coroutine: bool = False, settle: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.engine = engine
        self.rank = rank
        self.backend = backend
        self.block = block
        self.settle = settle  # lets the computing the rank did so far take its virtual time, before a call
        self.coroutine = coroutine  # the rank is a greenlet: it may block only when Python called us

    def wait(self, op: Op) -> Op:
        """Block the rank until ``op`` completes; re-raise its failure as torch would."""
        event = op.event
        if not event.processed:
            self.engine.waiting(self.rank, op)
            self.block(event)  # the kernel resumes us once the event fired
        self.engine.resumed(self.rank)
        if not event.ok:
            raise _as_torch_error(event.value)
        return op


def _as_torch_error(error) -> BaseException:
    kind, message = getattr(error, "kind", "RuntimeError"), getattr(error, "message", str(error))
    if kind == "SIGABRT":
        return ProcessAborted(message)
    exception_type = {
        "RuntimeError": RuntimeError,
        "ValueError": ValueError,
        "TypeError": TypeError,
        "DistBackendError": getattr(dist, "DistBackendError", RuntimeError),
        "DistStoreError": getattr(dist, "DistStoreError", RuntimeError),
    }.get(kind, RuntimeError)
    return exception_type(message)


class SimWork(dist.distributed_c10d.Work):
    """The handle ``async_op=True`` returns; ``wait()`` blocks in virtual time."""

    def __init__(self, runtime: RankRuntime, op: Op, group: SimProcessGroup) -> None:
        super().__init__()
        self._runtime = runtime
        self._op = op
        self._group = group

    def wait(self, timeout=None) -> bool:
        self._runtime.wait(self._op)
        return True

    def is_completed(self) -> bool:
        return self._op.event.processed

    def is_success(self) -> bool:
        return self._op.event.processed and self._op.event.ok

    def exception(self):
        event = self._op.event
        return None if not event.processed or event.ok else _as_torch_error(event.value)

    def result(self) -> list[torch.Tensor]:
        self.wait()
        return list(self._op.outputs or self._op.tensors)

    def get_future(self) -> torch.futures.Future:
        """A future that is already complete: the wait happens here, on the rank's own stack."""
        if self._runtime.coroutine:
            raise RuntimeError(CPP_REFUSAL)  # only C++ (DDP's reducer) asks for futures
        future: torch.futures.Future = torch.futures.Future()
        try:
            future.set_result(self.result())
        except Exception as exc:  # torch's error, delivered where the caller expects it
            future.set_exception(exc)
        return future

    def _source_rank(self) -> int:
        self.wait()
        return self._group._to_group_rank(self._op.source)

    def source_rank(self) -> int:
        return self._source_rank()

    def synchronize(self) -> None:
        self.wait()


class SimProcessGroup(dist.ProcessGroup):
    """One rank's view of one process group, backed by the collectives engine."""

    def __init__(self, runtime: RankRuntime, rank: int, size: int) -> None:
        super().__init__(rank, size)
        self._runtime = runtime
        self._sim_rank, self._sim_size = rank, size
        self._index = c10d._world.group_count  # which new_group call made it (same order on every rank)
        self._seq = 0
        self._key: tuple | None = None

    # -- identity -----------------------------------------------------------------------------

    def getBackendName(self) -> str:
        return "simdist"

    # A ProcessGroup subclassed in Python keeps its name on the Python side (FSDP2 and
    # DeviceMesh read it); torch sets it through _set_group_name when it creates the group.
    def _set_group_name(self, name: str) -> None:
        self._group_name = name

    @property
    def group_name(self) -> str:
        name = getattr(self, "_group_name", None)
        if name is None:
            raise RuntimeError("ProcessGroup name not set")
        return name

    def size(self) -> int:
        return self._sim_size

    def _members(self) -> tuple:
        if self._key is None:
            mapping = c10d._world.pg_group_ranks[self]
            if isinstance(mapping, IdentityRanks):
                self._key = (0, "WORLD")
            else:
                self._key = (self._index, tuple(sorted(mapping, key=mapping.__getitem__)))
        return self._key

    def _to_global(self, group_rank: int) -> int:
        key = self._members()
        return group_rank if key[1] == "WORLD" else key[1][group_rank]

    def _to_group_rank(self, global_rank: int | None) -> int:
        key = self._members()
        if global_rank is None or key[1] == "WORLD":
            return -1 if global_rank is None else global_rank
        return key[1].index(global_rank)

    # -- plumbing -----------------------------------------------------------------------------------

    def _submit(self, kind: str, tensors: list[torch.Tensor], **fields: Any) -> SimWork:
        if self._runtime.coroutine and not _called_from_python_api(sys._getframe(2)):
            raise RuntimeError(CPP_REFUSAL)
        if self._runtime.settle is not None:
            self._runtime.settle()
        sequenced = kind not in ("send", "recv")
        op = Op(kind=kind, rank=self._runtime.rank, group=self._members(), group_rank=self._sim_rank,
                seq=self._seq if sequenced else None, tensors=tensors, **fields)  # fmt: skip
        if sequenced:
            self._seq += 1
        self._runtime.engine.submit(op)
        return SimWork(self._runtime, op, self)

    def _check_reduce_op(self, reduce_op, tensor: torch.Tensor) -> None:
        """What gloo / NCCL themselves refuse (torch's Python layer has already checked the rest)."""
        name = red_type(reduce_op)
        backend = self._runtime.backend
        integral = not (tensor.is_floating_point() or tensor.is_complex())
        if backend == "gloo":
            if name == "PREMUL_SUM":
                raise RuntimeError("Cannot use ReduceOp.PREMUL_SUM with Gloo")
            if name in ("BAND", "BOR", "BXOR") and (not integral or tensor.dtype == torch.bool):
                raise RuntimeError(f"Cannot use ReduceOp.{name} with non-integral dtype")
        else:
            if name in ("BAND", "BOR", "BXOR"):
                raise ValueError(f"Cannot use ReduceOp.{name} with NCCL")
            if name == "AVG" and tensor.dtype == torch.bool:
                raise TypeError("Cannot use ReduceOp.AVG with boolean inputs")
            if name == "PREMUL_SUM" and tensor.dtype not in _FLOATING:
                raise RuntimeError("PreMulSum Data type must be half, float, bfloat16 or double")

    @staticmethod
    def _shape(tensor: torch.Tensor) -> str:
        return "(" + ", ".join(str(d) for d in tensor.shape) + ")"

    # -- collectives ----------------------------------------------------------------------------------

    def allreduce(self, tensors, opts=None):
        self._check_reduce_op(opts.reduceOp, tensors[0])
        return self._submit("all_reduce", list(tensors), reduce_op=opts.reduceOp)

    def allreduce_coalesced(self, tensors, opts=None):
        self._check_reduce_op(opts.reduceOp, tensors[0])
        return self._submit("all_reduce_coalesced", list(tensors), reduce_op=opts.reduceOp)

    def broadcast(self, tensors, opts=None):
        root = opts.rootRank
        if self._runtime.backend == "gloo" and not 0 <= root < self._sim_size:
            raise RuntimeError(f"ProcessGroupGloo::broadcast: invalid root rank: {root}")
        return self._submit("broadcast", list(tensors), root=root)

    def reduce(self, tensors, opts=None):
        self._check_reduce_op(opts.reduceOp, tensors[0])
        return self._submit("reduce", list(tensors), reduce_op=opts.reduceOp, root=opts.rootRank)

    def allgather(self, output_tensors, input_tensors, opts=None):
        outputs, tensor = output_tensors[0], input_tensors[0]
        if self._runtime.backend == "gloo":
            for i, out in enumerate(outputs):
                if out.shape != tensor.shape:
                    raise RuntimeError(
                        f"ProcessGroupGloo::allgather: invalid tensor size at index {i} "
                        f"(expected {self._shape(tensor)}, got {self._shape(out)})"
                    )
        return self._submit("all_gather", [tensor], outputs=list(outputs))

    def all_gather_single(self, output, input, opts=None):
        if self._runtime.backend == "gloo":
            for i, part in enumerate(torch.chunk(output, self._sim_size)):
                if part.shape != input.shape:
                    raise RuntimeError(
                        f"ProcessGroupGloo::allgather: invalid tensor size at index {i} "
                        f"(expected {self._shape(input)}, got {self._shape(part)})"
                    )
        elif output.numel() != input.numel() * self._sim_size:
            raise ValueError("output tensor size must be equal to world_size times input tensor size")
        return self._submit("all_gather_into_tensor", [input], outputs=[output])

    _allgather_base = all_gather_single

    def allgather_coalesced(self, output_lists, input_list, opts=None):
        works = [self.allgather([outs], [inp], opts) for outs, inp in zip(output_lists, input_list, strict=True)]
        for work in works[:-1]:
            work.wait()
        return works[-1]

    def reduce_scatter(self, output_tensors, input_lists, opts=None):
        output, inputs = output_tensors[0], input_lists[0]
        self._check_reduce_op(opts.reduceOp, output)
        return self._submit("reduce_scatter", [output], reduce_op=opts.reduceOp, extra={"inputs": list(inputs)})

    def reduce_scatter_single(self, output, input, opts=None):
        self._check_reduce_op(opts.reduceOp, output)
        out_rows = output.shape[0] if output.dim() else 1
        in_rows = input.shape[0] if input.dim() else 1
        if self._runtime.backend == "gloo" and out_rows * self._sim_size != in_rows:
            raise RuntimeError(
                f"Check failed: outputShape[0] * worldSize == inputShape[0] ({out_rows * self._sim_size} vs. {in_rows})."
            )
        if output.numel() * self._sim_size != input.numel():
            raise ValueError("input tensor must be the same size as output size times world size")
        return self._submit("reduce_scatter_tensor", [output], reduce_op=opts.reduceOp, extra={"input": input})

    _reduce_scatter_base = reduce_scatter_single

    def alltoall(self, output_tensors, input_tensors, opts=None):
        return self._submit("all_to_all", [input_tensors[0]], outputs=list(output_tensors),
                            extra={"inputs": list(input_tensors)})  # fmt: skip

    def all_to_all_single(self, output, input, output_split_sizes, input_split_sizes, opts=None):
        return self._submit("all_to_all_single", [input], outputs=[output],
                            extra={"input": input, "input_splits": list(input_split_sizes or []),
                                   "output_splits": list(output_split_sizes or [])})  # fmt: skip

    alltoall_base = all_to_all_single

    def gather(self, output_tensors, input_tensors, opts=None):
        outputs = list(output_tensors[0]) if output_tensors else []
        return self._submit("gather", [input_tensors[0]], outputs=outputs, root=opts.rootRank)

    def scatter(self, output_tensors, input_tensors, opts=None):
        inputs = list(input_tensors[0]) if input_tensors else []
        return self._submit("scatter", [output_tensors[0]], root=opts.rootRank, extra={"inputs": inputs})

    def barrier(self, opts=None):
        return self._submit("barrier", [])

    def monitored_barrier(self, timeout=None, wait_all_ranks=False):
        """gloo's monitored barrier: every rank meets here (a rank that never comes makes it time out)."""
        self._submit("barrier", []).wait()

    # -- point to point --------------------------------------------------------------------------------

    def send(self, tensors, dst, tag=0):
        return self._submit("send", [tensors[0]], peer=self._to_global(dst), tag=tag)

    def recv(self, tensors, src, tag=0):
        return self._submit("recv", [tensors[0]], peer=self._to_global(src), tag=tag)

    def recv_anysource(self, tensors, tag=0):
        return self._submit("recv", [tensors[0]], peer=None, tag=tag)
