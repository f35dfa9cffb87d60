"""Simulated collectives compute what torch.distributed computes, whatever the interleaving."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from simdist import LaunchSpec  # noqa: E402
from simdist.program._scenario import ScenarioOptions  # noqa: E402
from simdist import SimOptions, simulate  # noqa: E402
from simdist.testing.models import reference_collective  # noqa: E402

FAST = SimOptions(agent_startup=0.1, worker_startup=0.1)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INTS = (torch.int32, torch.int64)
FLOATS = (torch.float32, torch.float64)


def _launch(nodes: int, nproc: int) -> LaunchSpec:
    return LaunchSpec(nnodes=nodes, nproc_per_node=nproc, master_port=29500)


def _run(spec, scenario, seed=0, **options):
    return simulate(spec, seed=seed, start_times=(0.0,) * spec.max_nodes, options=FAST, scenario=scenario,
                    scenario_options=ScenarioOptions(**options))  # fmt: skip


@st.composite
def collective_cases(draw):
    """(kind, reduce op, root, per-rank inputs, world) for gloo-valid calls with small exact values."""
    nodes, nproc = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = nodes * nproc
    kind = draw(st.sampled_from(["all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor",
                                 "reduce_scatter_tensor", "all_to_all_single", "gather", "scatter"]))  # fmt: skip
    dtype = draw(st.sampled_from(INTS + FLOATS))
    ops = ["SUM", "PRODUCT", "MIN", "MAX"] + (["BAND", "BOR", "BXOR"] if dtype in INTS else ["AVG"])
    if kind == "reduce_scatter_tensor":
        ops = ["SUM", "MAX", "MIN"]
    op = draw(st.sampled_from(ops))
    root = draw(st.integers(0, n - 1))
    width = draw(st.integers(1, 3))
    rows = n if kind in ("reduce_scatter_tensor", "all_to_all_single", "scatter") else draw(st.integers(1, 3))
    values = st.integers(-3, 3)
    inputs = [
        torch.tensor(draw(st.lists(st.lists(values, min_size=width, max_size=width), min_size=rows, max_size=rows)),
                     dtype=dtype)  # fmt: skip
        for _ in range(n)
    ]
    return nodes, nproc, kind, op, root, inputs


def _scenario(kind, op, root, inputs):
    def scenario(dist):
        rank, n = dist.get_rank(), dist.get_world_size()
        x = inputs[rank].clone()
        reduce_op = getattr(dist.ReduceOp, op)
        if kind == "all_reduce":
            dist.all_reduce(x, op=reduce_op)
            return x
        if kind == "reduce":
            dist.reduce(x, dst=root, op=reduce_op)
            return x if rank == root else None
        if kind == "broadcast":
            dist.broadcast(x, src=root)
            return x
        if kind == "all_gather":
            out = [torch.empty_like(x) for _ in range(n)]
            dist.all_gather(out, x)
            return torch.stack(out)
        if kind == "all_gather_into_tensor":
            out = torch.empty((n * x.shape[0], *x.shape[1:]), dtype=x.dtype)
            (getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor)(out, x)
            return out
        if kind == "reduce_scatter_tensor":
            out = torch.empty((1, x.shape[1]), dtype=x.dtype)
            (getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor)(out, x, op=reduce_op)
            return out
        if kind == "all_to_all_single":
            out = torch.empty_like(x)
            dist.all_to_all_single(out, x)
            return out
        if kind == "gather":
            out = [torch.empty_like(x) for _ in range(n)] if rank == root else None
            dist.gather(x, out, dst=root)
            return torch.stack(out) if out is not None else None
        if kind == "scatter":
            parts = list(torch.chunk(x, n)) if rank == root else None
            out = torch.empty((1, x.shape[1]), dtype=x.dtype)
            dist.scatter(out, parts, src=root)
            return out
        raise AssertionError(kind)

    return scenario


def _close(a, b, dtype) -> bool:
    if a is None or b is None:
        return a is None and b is None
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    if dtype in INTS:
        return torch.equal(ta, tb)
    return ta.shape == tb.shape and torch.allclose(ta, tb, rtol=1e-6, atol=1e-6)


@SETTINGS
@given(collective_cases(), st.integers(0, 2**16), st.booleans())
def test_every_rank_gets_the_reference_result_whatever_the_interleaving(case, seed, exact):
    nodes, nproc, kind, op, root, inputs = case
    trace = _run(_launch(nodes, nproc), _scenario(kind, op, root, inputs), seed=seed, exact_steps=exact)
    assert trace.outcome == "ok", trace.diagnosis
    expected = reference_collective(kind, inputs, op=op, root=root)
    dtype = inputs[0].dtype
    for result, want in zip(sorted(trace.results, key=lambda r: r.rank), expected, strict=True):
        if kind in ("reduce_scatter_tensor", "scatter") and want is not None:
            want = want.reshape(1, -1)
        assert _close(result.result, None if want is None else want.tolist(), dtype), (result, want)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 9), st.sampled_from(INTS + FLOATS), st.sampled_from(["SUM", "MAX", "MIN", "PRODUCT"]),
       st.integers(1, 40), st.data())  # fmt: skip
def test_ring_tree_and_recursive_doubling_agree(n, dtype, op, size, data):
    inputs = [torch.tensor(data.draw(st.lists(st.integers(-3, 3), min_size=size, max_size=size)), dtype=dtype)
              for _ in range(n)]  # fmt: skip
    results = {}
    for algorithm in ("ring", "tree", "recursive_doubling"):
        trace = _run(_launch(1, n), _scenario("all_reduce", op, 0, inputs), algorithm=algorithm, exact_steps=True)
        assert trace.outcome == "ok", trace.diagnosis
        (collective,) = trace.of_kind("collective")
        assert collective.detail["algorithm"] == algorithm
        results[algorithm] = [r.result for r in trace.results]
    reference = reference_collective("all_reduce", inputs, op=op)[0].tolist()
    for algorithm, per_rank in results.items():
        assert all(_close(r, reference, dtype) for r in per_rank), algorithm


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12))
def test_ring_all_reduce_takes_2_n_minus_1_steps(n):
    inputs = [torch.ones(n * 2) for _ in range(n)]
    trace = _run(_launch(1, n), _scenario("all_reduce", "SUM", 0, inputs), algorithm="ring")
    steps = trace.of_kind("collective_step")
    assert len(steps) == 2 * (n - 1)
    assert [s.detail["phase"] for s in steps] == ["reduce_scatter"] * (n - 1) + ["all_gather"] * (n - 1)
    for s in steps:  # in every step each rank sends exactly one chunk to its right neighbour
        assert sorted((t["src"], t["dst"]) for t in s.detail["transfers"]) == [(r, (r + 1) % n) for r in range(n)]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch renames some of these calls
@pytest.mark.parametrize("n", [2, 3, 8])
def test_every_collective_records_as_many_steps_as_it_traces_and_nccl_tests_bus_factor(n):
    from simdist.collectives._algorithms import bus_factor

    def scenario(dist):
        x = torch.ones(n * 4)
        dist.all_reduce(x)
        dist.all_reduce_coalesced([torch.ones(3), torch.ones(n * 8)])
        dist.all_gather_into_tensor(torch.empty(n * 4 * n), x)
        dist.reduce_scatter_tensor(torch.empty(4), x)
        dist.broadcast(x, src=0)
        dist.barrier()

    trace = _run(_launch(1, n), scenario)
    assert trace.outcome == "ok", trace.diagnosis
    base = {"all_reduce_coalesced": "all_reduce", "all_gather_into_tensor": "all_gather",
            "reduce_scatter_tensor": "reduce_scatter", "barrier": "all_reduce"}  # fmt: skip
    collectives = trace.of_kind("collective")
    assert len(collectives) == 6
    for event in collectives:
        d = event.detail
        traced = [s for s in trace.of_kind("collective_step") if s.detail["seq"] == d["seq"]]
        assert d["steps"] == len(traced), d["op"]
        assert d["busbw"] == pytest.approx(d["algbw"] * bus_factor(base.get(d["op"], d["op"]), n)), d["op"]
    coalesced = next(e for e in collectives if e.detail["op"] == "all_reduce_coalesced")
    assert coalesced.detail["bytes"] == (3 + n * 8) * 4  # every tensor of the batch travels


FAULTS = ["other_op", "other_shape", "other_root", "other_dtype", "skip_and_exit", "unmatched_recv", "order"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 6), st.sampled_from(FAULTS), st.data())
def test_every_mismatch_or_deadlock_is_detected_and_named(n, fault, data):
    culprit = data.draw(st.integers(0, n - 1))

    def scenario(dist):
        rank = dist.get_rank()
        x = torch.ones(4)
        if rank != culprit:
            dist.all_reduce(x)
            dist.broadcast(x, src=0)
            return x
        if fault == "other_op":
            dist.broadcast(x, src=0)
        elif fault == "other_shape":
            dist.all_reduce(torch.ones(5))
        elif fault == "other_dtype":
            dist.all_reduce(torch.ones(4, dtype=torch.int64))
        elif fault == "other_root":
            dist.all_reduce(x)
            dist.broadcast(x, src=(0 + 1) % dist.get_world_size())
        elif fault == "unmatched_recv":
            dist.recv(x, src=(rank + 1) % dist.get_world_size())
        elif fault == "order":
            dist.broadcast(x, src=0)
            dist.all_reduce(x)
        return x  # skip_and_exit: leaves without calling anything

    trace = _run(_launch(1, n), scenario, seed=data.draw(st.integers(0, 1000)), timeout=5.0)
    expected = "deadlock" if fault in ("skip_and_exit", "unmatched_recv") else "collective_mismatch"
    assert trace.outcome == expected, trace.diagnosis
    # The culprit's pending operation is the odd one out, and the diagnosis shows it as such.
    (problem,) = trace.of_kind(expected)
    pending = {int(r): what for r, what in problem.detail["pending"].items()}
    marker = {"other_op": "broadcast#0", "other_shape": "shape=[5]", "other_dtype": "int64", "other_root": "root=1",
              "skip_and_exit": None, "unmatched_recv": "recv(from", "order": "broadcast#0"}[fault]  # fmt: skip
    if fault == "skip_and_exit":
        assert pending[culprit] in ("exited", "finished")
        assert f"rank {culprit} exited" in trace.diagnosis or f"rank {culprit}: finished" in trace.diagnosis
    else:
        assert marker in pending[culprit]
        assert [r for r, what in pending.items() if r != culprit and marker in what] == []
        assert f"rank {culprit}: {pending[culprit]}" in trace.diagnosis
    assert all(r.exit_code != 0 for r in trace.results if r.rank != culprit) or fault == "skip_and_exit"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 6), st.lists(st.sampled_from(["world", "half"]), min_size=1, max_size=6))
def test_sequence_numbers_count_per_group_and_agree_across_ranks(n, program):
    def scenario(dist):
        rank, world = dist.get_rank(), dist.get_world_size()
        half = dist.new_group(list(range(world // 2 + 1)))
        x = torch.ones(2)
        for step in program:
            if step == "world":
                dist.all_reduce(x)
            elif rank <= world // 2:
                dist.all_reduce(x, group=half)
        return x

    trace = _run(_launch(1, n), scenario)
    assert trace.outcome == "ok", trace.diagnosis
    by_group: dict[str, list[int]] = {}
    for event in trace.of_kind("collective"):
        by_group.setdefault(event.detail["group"], []).append(event.detail["seq"])
    for seqs in by_group.values():
        assert seqs == list(range(len(seqs)))
    assert len(by_group.get("WORLD", [])) == program.count("world")


def test_premul_sum_is_refused_by_gloo_and_computed_by_nccl():
    def scenario(dist):
        t = torch.tensor([float(dist.get_rank() + 1)])
        dist.all_reduce(t, op=dist._make_nccl_premul_sum(0.5))
        return t.item()

    gloo = _run(_launch(1, 2), scenario, backend="gloo")
    assert gloo.outcome == "worker_failed"
    assert "Cannot use ReduceOp.PREMUL_SUM with Gloo" in gloo.diagnosis
    nccl = _run(_launch(1, 2), scenario, backend="nccl")
    assert [r.result for r in nccl.results] == [1.5, 1.5]  # 0.5 * (1 + 2)


def test_nccl_refuses_bitwise_ops_like_torch():
    def scenario(dist):
        dist.all_reduce(torch.ones(2, dtype=torch.int32), op=dist.ReduceOp.BAND)

    trace = _run(_launch(1, 2), scenario, backend="nccl")
    assert "ValueError: Cannot use ReduceOp.BAND with NCCL" in trace.diagnosis


def test_missing_numpy_gets_a_clear_message(monkeypatch):
    """torch's object collectives need numpy; without it the diagnosis says so, in one line."""
    monkeypatch.setattr(torch.Tensor, "numpy", lambda self: (_ for _ in ()).throw(RuntimeError("Numpy is not available")))
    trace = _run(_launch(1, 2), "objects")
    assert trace.outcome == "worker_failed"
    assert "pip install numpy" in trace.diagnosis
