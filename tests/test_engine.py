"""The collectives engine on its own: ops submitted straight to it, on a bare kernel and world."""

import pytest

torch = pytest.importorskip("torch")

from simdist import CostModel  # noqa: E402
from simdist.collectives._engine import CollectiveEngine  # noqa: E402
from simdist.collectives._ops import Op  # noqa: E402
from simdist.sim._kernel import Kernel  # noqa: E402
from simdist.sim._world import World  # noqa: E402

WORLD = (0, "WORLD")
SUM = torch.distributed.ReduceOp.SUM


def _engine(size: int, backend: str = "gloo", timeout: float = 5.0):
    kernel = Kernel(0)
    events: list[tuple[float, str, dict]] = []
    world = World(kernel, ("test",), size, timeout)
    engine = CollectiveEngine(kernel, lambda kind, node, rank, **d: events.append((kernel.now, kind, d)), world,
                              backend, "ring", CostModel(), timeout, trace_steps=False)  # fmt: skip
    for rank in range(size):
        engine.rank_started(rank, node=0)
    return kernel, world, engine, events


def _call(engine: CollectiveEngine, kind: str, rank: int, seq: int, tensor, **fields) -> Op:
    op = Op(kind=kind, rank=rank, group=WORLD, group_rank=rank, seq=seq, tensors=[tensor], **fields)
    engine.submit(op)
    engine.waiting(rank, op)
    return op


def test_an_all_reduce_sums_in_place_and_completes_after_its_modelled_time():
    kernel, _, engine, events = _engine(3)
    tensors = [torch.tensor([1.0, 2.0]) * (r + 1) for r in range(3)]
    ops = [_call(engine, "all_reduce", r, 0, tensors[r], reduce_op=SUM) for r in range(3)]
    kernel.run()
    assert all(op.event.ok for op in ops)
    assert all(t.tolist() == [6.0, 12.0] for t in tensors)
    (t, kind, detail), = [e for e in events if e[1] == "collective"]
    assert detail["op"] == "all_reduce" and kernel.now > 0  # time passed: the cost model was applied


def test_a_mismatch_is_reported_to_the_world_and_every_rank_times_out_with_alternatives():
    kernel, world, engine, events = _engine(2, timeout=5.0)
    a = _call(engine, "all_reduce", 0, 0, torch.ones(4), reduce_op=SUM)
    b = _call(engine, "broadcast", 1, 0, torch.ones(4), root=0)
    for op in (a, b):
        op.event.defuse()  # no rank process receives them in this test
    kernel.run()
    assert [p.outcome for p in world.problems] == ["collective_mismatch"]
    assert kernel.now == 5.0
    for op in (a, b):
        assert not op.event.ok and "Timed out waiting 5000ms" in op.event.value.message
    # gloo's timers race: either rank may see its peer's connection close instead
    assert set(engine.alternatives) == {0, 1}
    assert all("Connection closed by peer" in text for texts in engine.alternatives.values() for text in texts)


def test_a_rank_that_leaves_while_its_peer_waits_is_a_deadlock_seen_at_once_under_gloo():
    kernel, world, engine, _ = _engine(2)
    waiting = _call(engine, "all_reduce", 0, 0, torch.ones(1), reduce_op=SUM)
    waiting.event.defuse()
    world.members.update({0: "w0", 1: "w1"})
    engine.rank_finished(1)  # rank 1's program returned without calling the collective
    kernel.run()
    assert [p.outcome for p in world.problems] == ["deadlock"]
    assert kernel.now == 0.0 and "Connection closed by peer (rank 1)" in waiting.event.value.message
    assert engine.alternatives == {}  # no race here: one rank is gone, the other is told at once


def test_world_hooks_tell_the_engine_a_rank_died():
    kernel, world, engine, _ = _engine(2)
    waiting = _call(engine, "all_reduce", 1, 0, torch.ones(1), reduce_op=SUM)
    waiting.event.defuse()
    world.members.update({0: "w0", 1: "w1"})
    world.leave(0, "w0")  # rank 0's worker died (not a clean exit)
    kernel.run()
    assert world.problems == []  # a dead worker is a worker failure, not a hang
    assert "Connection closed by peer (rank 0)" in waiting.event.value.message
