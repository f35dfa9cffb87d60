"""Your own script on the virtual cluster: run unmodified, each rank a process of its own, user code never fatal."""

import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("numpy")  # the DDP script fingerprints parameters through numpy

from simdist import ConfigError, LaunchSpec, SimOptions, simulate  # noqa: E402
from simdist.cli import main  # noqa: E402

SCRIPTS = Path(__file__).parent / "scripts"


def run_script(tmp_path: Path, source: str, *, nproc: int = 2, seed: int = 0, script_args=(), **kwargs):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(source))
    return simulate(LaunchSpec(nproc_per_node=nproc), seed=seed, start_times=(0.0,), script=[str(path), *script_args],
                    **kwargs)  # fmt: skip


def stdout(trace, rank: int) -> str:
    return "".join(o.stdout for o in trace.output if o.rank == rank)


def stderr(trace, rank: int) -> str:
    return "".join(o.stderr for o in trace.output if o.rank == rank)


def test_a_ddp_script_trains_the_same_model_on_every_rank():
    trace = simulate(LaunchSpec(nproc_per_node=3), start_times=(0.0,), script=[str(SCRIPTS / "ddp_train.py"), "--epochs", "2"])
    assert trace.outcome == "ok", trace.diagnosis
    lines = [stdout(trace, r).strip() for r in range(3)]
    assert all("same-as-rank0 True" in line for line in lines), lines
    assert all("steps [8, 8, 8]" in line for line in lines), lines  # 48 samples / 3 ranks / 4 per batch × 2 epochs
    assert trace.scenario["kind"] == "script"


def test_each_rank_runs_the_script_as_main_with_its_arguments(tmp_path):
    trace = simulate(LaunchSpec(nproc_per_node=2), start_times=(0.0,),
                     script=[str(SCRIPTS / "args_exit.py"), "--lr", "0.5", "a", "b"])  # fmt: skip
    assert stdout(trace, 0) == "rank 0: lr=0.5 names=['a', 'b'] argv0=args_exit.py file=args_exit.py name=__main__\n"
    assert [(r.rank, r.exit_code) for r in trace.results] == [(0, 0), (1, 2)]
    assert trace.outcome == "worker_failed" and "exited with 2" in trace.diagnosis


def test_a_crash_restarts_the_group_and_the_next_attempt_succeeds():
    spec = LaunchSpec(nproc_per_node=2, max_restarts=1)
    trace = simulate(spec, start_times=(0.0,), script=[str(SCRIPTS / "crash_once.py")])
    assert trace.outcome == "ok", trace.diagnosis
    assert [(o.rank, o.attempt) for o in trace.output if o.stdout] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert "RuntimeError: boom on the first attempt" in stderr(trace, 1)
    assert 'crash_once.py", line' in stderr(trace, 1)  # the traceback names the user's file, not simdist's
    assert "/simdist/" not in stderr(trace, 1)
    assert [(r.rank, r.attempt, r.exit_code) for r in trace.results] == [(0, 1, 0), (1, 1, 0)]
    first = [e.detail for e in trace.of_kind("worker_exit") if e.detail["code"]]
    assert [(d["code"], d.get("signal")) for d in first] == [(1, None), (-15, "SIGTERM")]  # rank 0: stopped by its agent
    assert stdout(trace, 1).endswith("rank 1 attempt 1\nrank 1 sum 3.0\n")


@pytest.mark.parametrize(
    ("body", "code", "kind"),
    [
        ("sys.exit(0)", 0, None),
        ("sys.exit(3)", 3, "SystemExit"),
        ("sys.exit('bye')", 1, "SystemExit"),
        ("os._exit(4)", 4, "Exit"),
        ("raise KeyError('missing')", 1, "KeyError"),
        ("os.kill(os.getpid(), signal.SIGTERM)", -15, "Exit"),
    ],
)
def test_user_code_ends_its_rank_the_way_a_real_worker_would(tmp_path, body, code, kind):
    trace = run_script(tmp_path, f"""
        import os, signal, sys
        import torch.distributed as dist
        dist.init_process_group("gloo")
        if dist.get_rank() == 1:
            {body}
        print("rank", dist.get_rank(), "done")
    """)
    rank1 = trace.result_of(1)
    assert rank1.exit_code == code
    assert (rank1.error or "").split(":")[0] == (kind or "")
    assert trace.outcome == ("ok" if code == 0 else "worker_failed")


def test_a_module_level_exit_before_init_is_a_worker_exit_not_simdists(tmp_path):
    trace = run_script(tmp_path, "import sys\nsys.exit(5)\n")
    assert [r.exit_code for r in trace.results] == [5, 5] and trace.outcome == "worker_failed"


def test_a_busy_loop_is_stopped_and_named_by_file_and_line(tmp_path):
    trace = run_script(tmp_path, """
        import torch.distributed as dist
        dist.init_process_group("gloo")
        if dist.get_rank() == 0:
            while True:
                pass
        dist.barrier()
    """, wall_timeout=0.5)
    rank0 = trace.result_of(0)
    assert rank0.exit_code == 1 and rank0.error.startswith("Runaway: rank 0 ran 0.5 s")
    assert re.search(r"script\.py:[56] in <module>", rank0.error), rank0.error  # the loop's line
    assert trace.outcome == "worker_failed"


def test_each_rank_has_its_own_environment_and_globals(tmp_path):
    trace = run_script(tmp_path, """
        import os, time
        import torch.distributed as dist
        dist.init_process_group("gloo")
        me = os.environ["RANK"]
        os.environ["MINE"] = me
        VALUE = me
        for _ in range(3):
            dist.barrier()
            time.sleep(0.5)
            assert os.environ["MINE"] == me and VALUE == me and os.environ["RANK"] == me
        print(me, os.environ["MINE"], VALUE)
    """, nproc=3)
    assert trace.outcome == "ok", trace.diagnosis
    assert [stdout(trace, r) for r in range(3)] == ["0 0 0\n", "1 1 1\n", "2 2 2\n"]


def test_time_is_virtual_inside_ranks(tmp_path):
    trace = run_script(tmp_path, """
        import time
        import torch.distributed as dist
        dist.init_process_group("gloo")
        start, wall = time.monotonic(), time.time()
        time.sleep(3600)
        print(round(time.monotonic() - start, 6), round(time.time() - wall, 6), time.time() > 1.7e9)
    """)
    assert stdout(trace, 0) == "3600.0 3600.0 True\n"
    assert trace.of_kind("worker_exit")[0].t >= 3600


def test_starting_real_processes_is_refused_in_one_line(tmp_path):
    trace = run_script(tmp_path, """
        import torch
        from torch.utils.data import DataLoader
        loader = DataLoader(torch.arange(8), batch_size=2, num_workers=2)
        print(list(loader))
    """, nproc=1)
    assert trace.result_of(0).exit_code == 1
    assert "DataLoader(num_workers>0)" in trace.result_of(0).error and "num_workers=0" in trace.result_of(0).error


def test_the_same_seed_gives_the_same_trace_for_a_ddp_script_five_times():
    def run() -> str:
        return simulate(LaunchSpec(nproc_per_node=2), seed=11, script=[str(SCRIPTS / "ddp_train.py")]).to_json()

    first = run()
    assert all(run() == first for _ in range(4))
    assert json.loads(first)["outcome"] == "ok"


def test_the_cli_runs_a_script_given_after_the_options_or_in_a_pasted_torchrun_command(capsys):
    script = str(SCRIPTS / "args_exit.py")
    assert main(["simulate", "--nproc", "2", "--start-times", "0", "--local-ranks-filter", "0", script, "--lr", "1"]) == 1
    out = capsys.readouterr().out
    assert "[default0]:rank 0: lr=1.0" in out and "[default1]:" not in out
    assert main(["simulate", "--start-times", "0", "--", "torchrun", "--nproc-per-node=1", script, "--lr", "2"]) == 1
    assert "[default0]:rank 0: lr=2.0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "missing.py"], "missing.py: no such file"),
        (["simulate", "--", "torchrun", "--no-python", "ls"], "--no-python"),
        (["simulate", "-m"], "needs a module name"),
        (["simulate", "--scenario", "allreduce", "x.py"], "not both"),
        (["simulate", "--wall-timeout", "0", "x.py"], "--wall-timeout"),
    ],
)
def test_bad_script_input_is_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_unchanged_script_that_never_calls_init_still_runs(tmp_path):
    trace = run_script(tmp_path, "print('no distributed here')\n", nproc=2)
    assert trace.outcome == "ok" and [stdout(trace, r) for r in (0, 1)] == ["no distributed here\n"] * 2
    assert not trace.of_kind("process_group_ready")


def test_the_options_pass_through_simoptions(tmp_path):
    trace = run_script(tmp_path, "import torch.distributed as dist\ndist.init_process_group('gloo')\n",
                       options=SimOptions(worker_startup=4.0))  # fmt: skip
    assert trace.of_kind("worker_start")[0].t == pytest.approx(trace.of_kind("worker_spawn")[0].t + 4.0)


ISOLATION = """
import json, os, sys, time
import torch.distributed as dist

plan = json.load(open(sys.argv[1]))
dist.init_process_group("gloo")
me = dist.get_rank()
mine = {}
for phase in plan:
    sleep, keys = phase[me]
    for key in keys:
        os.environ[key] = f"rank{me}"
        globals()[key] = me
        mine[key] = me
    time.sleep(sleep)
    for key in {k for p in plan for _, ks in p for k in ks}:
        if key in mine:
            assert os.environ[key] == f"rank{me}" and globals()[key] == me, (key, me)
        else:
            assert key not in os.environ and key not in globals(), (key, me, "leaked")
    dist.barrier()
print("isolated", me, sorted(mine))
"""


@st.composite
def isolation_plans(draw):
    ranks = draw(st.integers(2, 4))
    keys = st.lists(st.sampled_from(["K_A", "K_B", "K_C", "K_D"]), max_size=2, unique=True)
    phases = draw(st.lists(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 2.0]), keys), min_size=ranks,
                                    max_size=ranks), min_size=1, max_size=3))  # fmt: skip
    return ranks, phases


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(isolation_plans(), st.integers(0, 2**16))
def test_ranks_never_see_each_others_environment_or_globals(tmp_path, case, seed):
    ranks, phases = case
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(phases))
    trace = run_script(tmp_path, ISOLATION, nproc=ranks, seed=seed, script_args=[str(plan)])
    assert trace.outcome == "ok", [o.stderr[-400:] for o in trace.output if o.stderr]
    for rank in range(ranks):
        own = sorted({k for phase in phases for k in phase[rank][1]})
        assert stdout(trace, rank) == f"isolated {rank} {own}\n"


def test_worlds_beyond_the_thread_budget_run_scenarios_on_greenlets_and_refuse_cpp_waits(monkeypatch):
    """Past the threads the OS allows, plain torch.distributed code still runs; DDP gets a clear error."""
    import simdist.program._runner as runner

    monkeypatch.setattr(runner, "THREADED_RANKS", 2)
    plain = simulate(LaunchSpec(nproc_per_node=3), start_times=(0.0,), scenario="allreduce")
    assert plain.outcome == "ok" and [r.result for r in plain.results] == [[3.0, 3.0]] * 3

    def ddp(dist):
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
        model(torch.ones(1, 2)).sum().backward()

    refused = simulate(LaunchSpec(nproc_per_node=3), start_times=(0.0,), scenario=ddp)
    assert refused.outcome == "worker_failed" and "from inside torch's C++ code" in refused.diagnosis
    with pytest.raises(ConfigError, match="a thread per rank, at most 2"):
        simulate(LaunchSpec(nproc_per_node=3), start_times=(0.0,), script=[str(SCRIPTS / "args_exit.py")])

    def spin(dist):
        while True:
            pass

    stopped = simulate(LaunchSpec(nproc_per_node=3), start_times=(0.0,), scenario=spin, wall_timeout=0.3)
    assert stopped.outcome == "worker_failed" and "Runaway: rank" in stopped.diagnosis and "in spin" in stopped.diagnosis


@pytest.mark.parametrize("how", ["tcp", "file", "none"])
def test_init_process_group_joins_the_simulated_world_however_it_is_spelled(tmp_path, how):
    trace = simulate(LaunchSpec(nproc_per_node=2), start_times=(0.0,),
                     script=[str(SCRIPTS / "init_variants.py"), how, str(tmp_path / "rendezvous")])  # fmt: skip
    assert trace.outcome == "ok", trace.diagnosis
    backend = "undefined" if how == "none" else "gloo"  # what torch's get_backend() says
    assert [stdout(trace, r) for r in (0, 1)] == [f"{how} {backend} 1.0\n"] * 2
    assert not (tmp_path / "rendezvous").exists()  # no real file store was made


def test_a_larger_world_size_than_torchrun_gave_waits_for_ranks_that_never_come():
    trace = simulate(LaunchSpec(nproc_per_node=2), start_times=(0.0,), script=[str(SCRIPTS / "init_variants.py"), "wrongsize"])
    assert [r.error for r in trace.results] == ["DistStoreError: wait timeout after 10000ms, keys: /default_pg/0//cpu//0/2"] * 2
    exits = [e.t - trace.of_kind("worker_start")[0].t for e in trace.of_kind("worker_exit")]
    assert exits == [pytest.approx(10.0)] * 2  # the script's own init timeout


def test_a_smaller_world_size_leaves_the_extra_rank_out_as_gloo_does():
    trace = simulate(LaunchSpec(nproc_per_node=2), start_times=(0.0,), script=[str(SCRIPTS / "init_variants.py"), "smaller"])
    assert stdout(trace, 0) == "smaller gloo 0.0\n"  # rank 0 alone in a world of one
    assert trace.result_of(1).error == "RuntimeError: [enforce fail at gloo/context.cc:23] rank < size. 1 vs 1"


def test_record_writes_the_error_file_and_torchruns_report_shows_its_traceback(tmp_path):
    trace = run_script(tmp_path, """
        from torch.distributed.elastic.multiprocessing.errors import record

        @record
        def main():
            raise ValueError("recorded failure")

        if __name__ == "__main__":
            main()
    """, nproc=1)
    summary = trace.of_kind("group_failed")[0].detail["summary"]
    assert "error_file: /tmp/torchelastic_simulated/attempt_0/0/error.json" in summary
    assert 'script.py", line 6, in main' in summary and "ValueError: recorded failure" in summary
    assert "/simdist/" not in summary
    again = run_script(tmp_path, "raise SystemExit(1)\n", nproc=1).to_json()
    assert again == run_script(tmp_path, "raise SystemExit(1)\n", nproc=1).to_json()


def test_a_module_runs_with_dash_m_as_torchrun_would(monkeypatch, capsys):
    monkeypatch.chdir(SCRIPTS)
    assert main(["simulate", "--nproc", "2", "--start-times", "0", "-m", "args_exit", "--lr", "3"]) == 1
    out = capsys.readouterr().out
    assert "[default0]:rank 0: lr=3.0 names=[] argv0=args_exit.py file=args_exit.py name=__main__" in out


def test_op_cost_makes_compute_take_virtual_time(tmp_path):
    source = """
        import torch
        import torch.distributed as dist
        dist.init_process_group("gloo")
        x = torch.ones(4)
        for _ in range(10):
            x = x * 1.0
        dist.barrier()
    """
    free = run_script(tmp_path, source, nproc=2)
    costly = run_script(tmp_path, source, nproc=2, op_cost=0.5)
    barrier_at = [e.t for e in free.of_kind("collective")][0]
    costly_at = [e.t for e in costly.of_kind("collective")][0]
    assert costly_at - barrier_at >= 10 * 0.5  # ten multiplications (and a few more ops) at 0.5 s each
    assert free.outcome == costly.outcome == "ok"


def test_monitored_barrier_passes_when_every_rank_comes(tmp_path):
    trace = run_script(tmp_path, """
        import datetime
        import torch.distributed as dist
        dist.init_process_group("gloo")
        dist.monitored_barrier(timeout=datetime.timedelta(seconds=5), wait_all_ranks=True)
        print("passed", dist.get_rank())
    """, nproc=3)
    assert trace.outcome == "ok", trace.diagnosis
    assert [stdout(trace, r) for r in range(3)] == ["passed 0\n", "passed 1\n", "passed 2\n"]
