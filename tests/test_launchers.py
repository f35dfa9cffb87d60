"""`explain --from`: each launcher's rule, checked against that launcher's own documented examples.

Where the launcher runs here it is also checked for real: Open MPI's ``mpirun`` (Debian's
openmpi-bin, as root with --allow-run-as-root) prints its process map for made-up hosts
(``--display-map --do-not-launch``) and dumps its OMPI_* variables for ``-np 3``.
The real Slurm check of SLURM_PROCID/SLURM_LOCALID lives in tests/test_script_slurm.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simdist._errors import ConfigError
from simdist.cli import main
from simdist.launch._launchers import launcher_layout
from simdist.launch._launchers._deepspeed import parse_hostfile, resource_filter
from simdist.launch._launchers._model import expand_hostlist
from simdist.launch._launchers._slurm import slurm_task_layout, tasks_per_node_text


def layout(name: str, command: str, cwd=None):
    if cwd is None:
        return launcher_layout(name, shlex.split(command))
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return launcher_layout(name, shlex.split(command))
    finally:
        os.chdir(old)


def placement(result) -> dict[str, list[int]]:
    return {host: result.node_ranks(i) for i, host in enumerate(result.hosts)}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- Slurm: srun(1) 22.05 and slurm_step_layout.c --------------------------------------------------------


def test_slurm_man_page_block_and_cyclic_examples():
    """srun(1) --distribution: three nodes with two CPUs each, four tasks."""
    assert slurm_task_layout(4, [2, 2, 2], "block") == [[0, 1], [2], [3]]
    assert slurm_task_layout(4, [2, 2, 2], "cyclic") == [[0, 3], [1], [2]]
    result = layout("slurm", "--nodes 3 --ntasks 4 --cpus-per-node 2 --distribution cyclic")
    assert placement(result) == {"node0": [0, 3], "node1": [1], "node2": [2]}


def test_slurm_default_distribution_is_block_when_tasks_exceed_nodes():
    assert "block distribution (Slurm default" in layout("slurm", "-N 2 -n 4").summary
    assert "cyclic distribution (Slurm default" in layout("slurm", "-N 4 -n 4").summary


def test_slurm_block_balances_counts_then_numbers_node_by_node():
    """_task_layout_block's fake cyclic pass: 5 tasks on 2 nodes are 3 + 2, not 4 + 1."""
    assert placement(layout("slurm", "-N 2 -n 5")) == {"node0": [0, 1, 2], "node1": [3, 4]}
    assert placement(layout("slurm", "-N 2 -n 6 --ntasks-per-node 4")) == {"node0": [0, 1, 2], "node1": [3, 4, 5]}


def test_slurm_cyclic_ranks_are_not_torchruns():
    result = layout("slurm", "--nodes 2 --ntasks-per-node 4 --distribution cyclic")
    assert placement(result) == {"node0": [0, 2, 4, 6], "node1": [1, 3, 5, 7]}
    assert [(p.rank, p.local_rank, p.torchrun_rank) for p in result.processes[:3]] == [(0, 0, 0), (1, 0, 4), (2, 1, 1)]
    assert not result.contiguous and any("cyclic" in note for note in result.notes)
    block = layout("slurm", "--nodes 2 --ntasks-per-node 4")
    assert block.contiguous


def test_slurm_variables_per_task():
    result = layout("slurm", "-N 2 -n 3 -w gpu[07-08]")
    task = result.processes[2]
    assert task.launcher_env == {"SLURM_PROCID": "2", "SLURM_LOCALID": "0", "SLURM_NODEID": "1", "SLURM_NTASKS": "3",
                                 "SLURM_NNODES": "2", "SLURM_STEP_TASKS_PER_NODE": "2,1", "SLURMD_NODENAME": "gpu08"}  # fmt: skip
    assert task.torch_env["LOCAL_WORLD_SIZE"] == "1" and task.torch_env["GROUP_RANK"] == "1"


def test_slurm_tasks_per_node_compressed_form():
    """srun(1) SLURM_TASKS_PER_NODE: '2(x3),1' is three nodes with two tasks, then one with one."""
    assert tasks_per_node_text([2, 2, 2, 1]) == "2(x3),1"
    assert tasks_per_node_text([4]) == "4"


def test_hostlists_expand_like_scontrol_show_hostnames():
    assert expand_hostlist("node[01-03,07],gpu5") == ["node01", "node02", "node03", "node07", "gpu5"]
    assert expand_hostlist("r[1-2]n[0-1]") == ["r1n0", "r1n1", "r2n0", "r2n1"]
    with pytest.raises(ConfigError):
        expand_hostlist("node[3-1]")


def test_slurm_oversubscribed_cyclic_follows_the_code():
    """More tasks than CPUs: every node may take ceil(extra / nodes) more, round-robin."""
    layout_ = slurm_task_layout(5, [1, 1], "cyclic")
    assert layout_ == [[0, 2, 4], [1, 3]]


@pytest.mark.parametrize(
    "command, message",
    [
        ("-n 4", "give --nodes"),
        ("-N 2 -n 9 --ntasks-per-node 4", "does not fit"),
        ("-N 2 -m plane=2", "plane is not modelled"),
        ("-N 2-4", "a range"),
        ("-N 2 --frobnicate", "unrecognized arguments"),
    ],
)
def test_slurm_bad_input(command, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        layout("slurm", command)


# -- Open MPI 4.1: mpirun(1) examples --------------------------------------------------------------------


@pytest.fixture
def hostfile_4x3(tmp_path):
    (tmp_path / "myhostfile").write_text("aa slots=4\nbb slots=4\ncc slots=4\n")
    return tmp_path


def test_mpirun_man_page_dash_host_repeats_count_slots():
    """mpirun -H aa,aa,bb ./a.out launches two processes on node aa and one on bb."""
    assert placement(layout("mpirun", "mpirun -H aa,aa,bb ./a.out")) == {"aa": [0, 1], "bb": [2]}


def test_mpirun_man_page_np_6_by_slot_and_by_node(hostfile_4x3):
    assert placement(layout("mpirun", "mpirun -hostfile myhostfile -np 6 ./a.out", hostfile_4x3)) == {
        "aa": [0, 1, 2, 3], "bb": [4, 5]}  # fmt: skip
    assert placement(layout("mpirun", "mpirun --map-by node -hostfile myhostfile -np 6 ./a.out", hostfile_4x3)) == {
        "aa": [0, 3], "bb": [1, 4], "cc": [2, 5]}  # fmt: skip


def test_mpirun_man_page_npernode():
    """mpirun(1): -H aa,bb -npernode 2 puts 0-1 on aa and 2-3 on bb. Open MPI 4.1.4 itself refuses it (each -H
    host without :N has one slot) unless the hosts have the slots; the real binary wins (see the real tests)."""
    assert placement(layout("mpirun", "mpirun -H aa:2,bb:2 -npernode 2 ./a.out")) == {"aa": [0, 1], "bb": [2, 3]}
    with pytest.raises(ConfigError, match="not enough slots"):
        layout("mpirun", "mpirun -H aa,bb -npernode 2 ./a.out")
    assert placement(layout("mpirun", "mpirun -H aa,bb -pernode ./a.out")) == {"aa": [0], "bb": [1]}


def test_mpirun_man_page_oversubscription_needs_permission(hostfile_4x3):
    with pytest.raises(ConfigError, match="not enough slots"):
        layout("mpirun", "mpirun -hostfile myhostfile -np 14 -nooversubscribe ./a.out", hostfile_4x3)
    result = layout("mpirun", "mpirun -hostfile myhostfile -np 14 --oversubscribe ./a.out", hostfile_4x3)
    assert [len(r) for r in placement(result).values()] == [5, 5, 4]  # "the remaining two … whichever nodes"


def test_mpirun_max_slots_sets_slots(tmp_path):
    (tmp_path / "h").write_text("aa slots=4 max_slots=4\nbb         max_slots=4\ncc slots=4\n")
    assert [len(r) for r in placement(layout("mpirun", "mpirun -hostfile h -np 12 a", tmp_path)).values()] == [4, 4, 4]


def test_mpirun_env_variables_and_mapping():
    result = layout("mpirun", "mpirun -np 8 -H a:4,b:4 --map-by node python train.py")
    process = result.processes[5]
    assert process.host == "b" and process.launcher_env == {
        "OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_LOCAL_RANK": "2",
        "OMPI_COMM_WORLD_LOCAL_SIZE": "4", "OMPI_COMM_WORLD_NODE_RANK": "2"}  # fmt: skip
    assert process.torchrun_rank == 6 and not process.same_as_torchrun
    assert result.equivalent.script == ("train.py",)


@pytest.mark.parametrize(
    "command, message",
    [
        ("mpirun python t.py", "give -np"),
        ("mpirun -np 3 -H a,b t.py", "not enough slots"),
        ("mpirun -np 4 --map-by ppr:2:socket -H a:4 t", "ppr:N:node only"),
        ("mpirun -np 4 --map-by seq -H a:4 t", "not modelled"),
        ("mpirun -np 2 -hostfile /nonexistent/h t", "cannot read the hostfile"),
    ],
)
def test_mpirun_bad_input(command, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        layout("mpirun", command)


MPIRUN = shutil.which("mpirun")


def _real_map(args: list[str], cwd) -> dict[str, list[int]] | str:
    done = subprocess.run(
        [MPIRUN, "--allow-run-as-root", "--bind-to", "none", "--display-map", "--do-not-launch", *args, "true"],
        capture_output=True, text=True, timeout=60, cwd=cwd,
    )  # fmt: skip
    output = done.stdout + done.stderr
    if "not enough slots" in output:
        return "not enough slots"
    ranks: dict[str, list[int]] = {}
    host = None
    for line in output.splitlines():
        found = re.search(r"Data for node: (\S+)", line)
        if found:
            host = found.group(1)
            ranks.setdefault(host, [])
        found = re.search(r"Process rank: (\d+)", line)
        if found and host is not None:
            ranks[host].append(int(found.group(1)))
    return {h: sorted(r) for h, r in ranks.items() if r}


REAL_MAPS = [
    ("aa\nbb\n", "-np 4 -npernode 2"),
    ("aa\nbb\n", "-pernode"),
    ("nodeA slots=2\nnodeB slots=3\n", "-np 5"),
    ("nodeA slots=2\nnodeB slots=3\n", "-np 5 --map-by node"),
    ("nodeA slots=2\nnodeB slots=3\n", ""),
    ("nodeA slots=2\nnodeB slots=3\n", "-np 6"),
    ("nodeA slots=2\nnodeB slots=3\n", "-np 9 --oversubscribe"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "-np 7 --map-by node"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "-np 6 --map-by node"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "-np 4 --map-by node"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "-np 10 --map-by node --oversubscribe"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "-np 11 --oversubscribe"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "--map-by ppr:1:node"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "--map-by ppr:2:node -np 3"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "--map-by ppr:2:node"),
    ("nodeA slots=4\nnodeB slots=1\nnodeC slots=2\n", "-np 3 --map-by core"),
    ("nodeA slots=3\nnodeB slots=3\nnodeC slots=3\n", "-np 7 --map-by node"),
    ("nodeA\nnodeB\n", "-np 2"),
]


@pytest.mark.real
@pytest.mark.skipif(MPIRUN is None, reason="LOUD SKIP: Open MPI's mpirun is not installed (apt-get install openmpi-bin)")
@pytest.mark.parametrize("hostfile, options", REAL_MAPS)
def test_mpirun_placement_matches_real_open_mpi(tmp_path, hostfile, options):
    """Open MPI maps made-up hosts without contacting them (--display-map --do-not-launch)."""
    (tmp_path / "hosts").write_text(hostfile)
    real = _real_map(["--hostfile", "hosts", *shlex.split(options)], tmp_path)
    try:
        predicted = placement(layout("mpirun", f"mpirun --hostfile hosts {options} true", tmp_path))
    except ConfigError as exc:
        predicted = "not enough slots" if "not enough slots" in str(exc) else str(exc)
    assert predicted == real


@pytest.mark.real
@pytest.mark.skipif(MPIRUN is None, reason="LOUD SKIP: Open MPI's mpirun is not installed (apt-get install openmpi-bin)")
def test_mpirun_np_3_env_matches_real_open_mpi(capsys, tmp_path):
    """Each process writes its OMPI_COMM_WORLD_* variables to its own file (stdout lines could interleave)."""
    dump = ("import json, os, sys\nenv = {k: v for k, v in os.environ.items() if k.startswith('OMPI_COMM_WORLD')}\n"
            "open(os.path.join(sys.argv[1], 'rank%s.json' % env['OMPI_COMM_WORLD_RANK']), 'w').write(json.dumps(env))")  # fmt: skip
    done = subprocess.run([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "3", sys.executable, "-c", dump,
                           str(tmp_path)], capture_output=True, text=True, timeout=120)  # fmt: skip
    if done.returncode != 0 and "root" in done.stderr:
        pytest.skip(f"LOUD SKIP: mpirun refused to run here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    real = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(3)]
    code, out, err = run(capsys, "explain", "--from", "mpirun", "-f", "json", "--", "mpirun", "-np", "3", "python", "t.py")
    assert code == 0, err
    predicted = [p["launcher_env"] for p in json.loads(out)["processes"]]
    assert real == predicted


# -- accelerate 1.14 ------------------------------------------------------------------------------------------


def test_accelerate_docs_single_machine():
    """docs/basic_tutorials/launch.md: accelerate launch --num_processes=2 {script_name.py}."""
    result = layout("accelerate", "accelerate launch --num_processes=2 script_name.py --arg1")
    spec = result.equivalent
    assert spec.nprocs == (2,) and spec.master_port == 29500 and spec.script == ("script_name.py", "--arg1")
    assert [p.rank for p in result.processes] == [0, 1]


def test_accelerate_num_processes_is_the_total():
    """examples/slurm/submit_multinode.sh: --num_processes $((SLURM_NNODES * GPUS_PER_NODE))."""
    result = layout("accelerate", "accelerate launch --num_processes 8 --num_machines 2 --machine_rank 1 "
                                  "--main_process_ip 10.0.0.1 --main_process_port 29400 train.py")  # fmt: skip
    spec = result.equivalent
    assert (spec.nnodes, spec.nprocs, spec.node_rank) == ("2", (4, 4), 1)
    assert spec.rdzv_endpoint == "10.0.0.1:29400" and spec.rdzv_backend == "static"
    assert result.world_size == 8


def test_accelerate_floors_an_uneven_division():
    result = layout("accelerate", "accelerate launch --num-processes 10 --num-machines 3 --machine-rank 0 "
                                  "--main-process-ip h train.py")  # fmt: skip
    assert result.world_size == 9 and any("10 // 3 = 3" in note for note in result.notes)


def test_accelerate_same_network_uses_master_addr():
    result = layout("accelerate", "accelerate launch --num_processes 4 --num_machines 2 --machine_rank 0 "
                                  "--main_process_ip 10.0.0.1 --same_network train.py")  # fmt: skip
    assert result.equivalent.master_addr == "10.0.0.1" and result.equivalent.master_port == 29500
    assert result.processes[0].torch_env["MASTER_ADDR"] == "10.0.0.1"


@pytest.mark.parametrize(
    "command, message",
    [
        ("accelerate launch train.py", "give --num_processes"),
        ("accelerate launch --num_processes 4 --num_machines 2 train.py", "needs --main_process_ip"),
        ("accelerate launch --config_file c.yaml --num_processes 2 t.py", "does not read --config_file"),
        ("accelerate launch --num_processes 4 --num_machines 2 --machine_rank 2 --main_process_ip h t.py", "not below"),
    ],
)
def test_accelerate_bad_input(command, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        layout("accelerate", command)


# -- DeepSpeed 0.19 ------------------------------------------------------------------------------------------


def test_deepspeed_own_parser_tests_local():
    """DeepSpeed's tests/unit/launcher/test_run.py::test_parser_local, on simdist's port."""
    hosts = {"worker-0": [0, 1, 2, 3]}
    assert resource_filter(hosts) == hosts
    assert resource_filter(hosts, exclude="worker-0:1") == {"worker-0": [0, 2, 3]}
    assert resource_filter(hosts, exclude="worker-0:1,2") == {"worker-0": [0, 3]}
    assert resource_filter(hosts, include="worker-0:1") == {"worker-0": [1]}
    assert resource_filter(hosts, include="worker-0:1,1") == {"worker-0": [1]}
    assert resource_filter(hosts, include="worker-0:1@worker-0:0,1") == {"worker-0": [0, 1]}
    assert resource_filter(hosts, include="worker-0") == hosts
    assert resource_filter(hosts, exclude="worker-0") == {}
    assert resource_filter(hosts, exclude="worker-0:0,1,2,3") == {}


def test_deepspeed_own_parser_tests_multinode_and_errors():
    hosts = {"worker-0": [0, 1, 2, 3], "worker-1": [0, 1, 2, 3]}
    assert resource_filter(hosts, include="worker-1:0,3") == {"worker-1": [0, 3]}
    assert resource_filter(hosts, exclude="worker-1") == {"worker-0": [0, 1, 2, 3]}
    assert resource_filter(hosts, exclude="worker-0:0,1@worker-1:3") == {"worker-0": [2, 3], "worker-1": [0, 1, 2]}
    for include, exclude in (("jeff", ""), ("", "jeff"), ("worker-1:4", ""), ("", "worker-1:4"),
                             ("", "worker-1@worker-0:1@5"), ("A", "B")):  # fmt: skip
        with pytest.raises(ConfigError):
            resource_filter(hosts, include=include, exclude=exclude)


def test_deepspeed_own_hostfile_tests():
    good = "\n    worker-1 slots=2\n    worker-2 slots=2\n\n    localhost slots=1\n    123.23.12.10 slots=2\n\n" \
           "    #worker-1 slots=3\n    # this is a comment\n\n    "  # fmt: skip
    assert parse_hostfile(good) == {"worker-1": 2, "worker-2": 2, "localhost": 1, "123.23.12.10": 2}
    for bad in ("worker-1 slots=2\nworker-2 slots=1\nworker-1 slots=1", "this is bad slots=1", "missingslots", "\n",
                "worker-1 slots=2\nthis is bad slots=1\nworker-2 slots=4\nmissingslots"):  # fmt: skip
        with pytest.raises(ConfigError):
            parse_hostfile(bad)


@pytest.fixture
def ds_hostfile(tmp_path):
    (tmp_path / "myhostfile").write_text("worker-1 slots=4\nworker-2 slots=4\nworker-3 slots=4\n")
    return tmp_path


def test_deepspeed_getting_started_examples(ds_hostfile):
    """docs/_tutorials/getting-started.md: --num_nodes, --include, --exclude."""
    every = layout("deepspeed", "deepspeed --hostfile=myhostfile client.py --deepspeed", ds_hostfile)
    assert every.world_size == 12 and every.contiguous
    two = layout("deepspeed", "deepspeed --hostfile=myhostfile --num_nodes=2 client.py", ds_hostfile)
    assert two.hosts == ("worker-1", "worker-2")
    only = layout("deepspeed", 'deepspeed --hostfile=myhostfile --include="worker-2:0,1" client.py', ds_hostfile)
    assert only.hosts == ("worker-2",) and [p.launcher_env["CUDA_VISIBLE_DEVICES"] for p in only.processes] == ["0,1"] * 2
    but = layout("deepspeed", 'deepspeed --hostfile=myhostfile --exclude="worker-2:0@worker-3:0,1" client.py', ds_hostfile)
    assert [len(but.node_ranks(i)) for i in range(3)] == [4, 3, 2]
    assert but.processes[4].launcher_env["CUDA_VISIBLE_DEVICES"] == "1,2,3"
    first_on_worker_2 = but.processes[4]  # RANK 4 % LOCAL_SIZE 3 = 1: LOCAL_RANK 1, the visible GPU 1 = physical 2
    assert (first_on_worker_2.order, first_on_worker_2.local_rank, first_on_worker_2.gpu) == (0, 1, 2)
    assert first_on_worker_2.args == ("--local_rank=1",)


def test_deepspeed_uneven_slots_local_rank_is_rank_mod_local_size(tmp_path):
    (tmp_path / "hostfile").write_text("a slots=3\nb slots=2\n")
    result = layout("deepspeed", "deepspeed --hostfile hostfile train.py", tmp_path)
    on_b = [(p.rank, p.local_rank, p.order) for p in result.processes if p.host == "b"]
    assert on_b == [(3, 1, 0), (4, 0, 1)]  # RANK % LOCAL_SIZE: the first process on b is LOCAL_RANK 1
    assert result.processes[3].launcher_env["CROSS_RANK"] == "1" and result.processes[3].launcher_env["LOCAL_SIZE"] == "2"
    assert any("RANK % LOCAL_SIZE" in note for note in result.notes)


def test_deepspeed_num_gpus_overrides_slots(tmp_path):
    (tmp_path / "hostfile").write_text("a slots=1\nb slots=4\n")
    result = layout("deepspeed", "deepspeed --hostfile hostfile --num_gpus 2 train.py", tmp_path)
    assert [len(result.node_ranks(i)) for i in range(2)] == [2, 2]
    assert any("even a" in note for note in result.notes)


def test_deepspeed_include_a_bare_host_runs_nothing(tmp_path):
    (tmp_path / "hostfile").write_text("a slots=2\nb slots=2\n")
    with pytest.raises(ConfigError, match="named without slots gets none"):
        layout("deepspeed", "deepspeed --hostfile hostfile --include a train.py", tmp_path)


# -- Kubeflow training-operator ----------------------------------------------------------------------------------


def test_kubeflow_simple_example_v1_9():
    """examples/pytorch/simple.yaml: Master ×1 + Worker ×1, command python3 mnist.py."""
    result = layout("kubeflow", "--name pytorch-simple --master-replicas 1 --worker-replicas 1 python3 mnist.py")
    assert result.hosts == ("pytorch-simple-master-0", "pytorch-simple-worker-0")
    master, worker = (p.launcher_env for p in result.processes)
    assert master["MASTER_ADDR"] == "pytorch-simple-master-0" and master["MASTER_PORT"] == "23456"
    assert (master["RANK"], worker["RANK"], worker["WORLD_SIZE"]) == ("0", "1", "2")
    assert master["PET_NPROC_PER_NODE"] == "auto"  # pytorchjob_controller_test: DefaultNprocPerNode
    assert master["PYTHONUNBUFFERED"] == "1" and worker["PET_NODE_RANK"] == "1" and worker["PET_NNODES"] == "2"


def test_kubeflow_world_size_counted_pods_before_1_7():
    old = layout("kubeflow", "--operator v1.6.0 --master-replicas 1 --worker-replicas 3 python train.py")
    assert old.processes[0].launcher_env["WORLD_SIZE"] == "4" and old.processes[0].launcher_env["PYTHONUNBUFFERED"] == "0"
    assert not any(k.startswith("PET_") for k in old.processes[0].launcher_env)
    new = layout("kubeflow", "--operator 1.9 --master-replicas 1 --worker-replicas 3 --nproc-per-node 4 python train.py")
    assert new.processes[0].launcher_env["WORLD_SIZE"] == "16"
    assert any("never come" in note for note in new.notes)  # 4 plain processes cannot fill WORLD_SIZE=16


def test_kubeflow_torchrun_reads_pet_variables():
    result = layout("kubeflow", "--master-replicas 1 --worker-replicas 1 --nproc-per-node 2 torchrun train.py")
    assert result.world_size == 4 and result.contiguous
    assert result.processes[3].torch_env["RANK"] == "3" and result.processes[3].host == "pytorch-job-worker-0"


def test_kubeflow_auto_nproc_counts_one_in_world_size():
    result = layout("kubeflow", "--master-replicas 1 --worker-replicas 1 --gpus-per-node 8 torchrun train.py")
    assert result.processes[0].launcher_env["WORLD_SIZE"] == "2" and result.world_size == 16
    assert any("'auto', which is not a number" in note for note in result.notes)


def test_kubeflow_old_operator_torchrun_runs_separate_jobs():
    result = layout("kubeflow", "--operator 1.6 --master-replicas 1 --worker-replicas 1 torchrun --nproc-per-node 2 t.py")
    assert [p.rank for p in result.processes] == [0, 1, 0, 1] and not result.contiguous


def test_kubeflow_elastic_echo_example():
    """examples/pytorch/elastic/echo/echo.yaml: Workers ×2, c10d, minReplicas 1, maxReplicas 2, maxRestarts 100."""
    result = layout("kubeflow", "--name elastic-example-echo --worker-replicas 2 --rdzv-backend c10d --min-replicas 1 "
                                "--max-replicas 2 --max-restarts 100 --gpus-per-node 1 "
                                "python -m torch.distributed.run --rdzv_backend=c10d ./echo.py")  # fmt: skip
    env = result.processes[0].launcher_env
    assert env["PET_RDZV_ENDPOINT"] == "elastic-example-echo-worker-0:23456" and env["PET_NNODES"] == "1:2"
    assert env["PET_MAX_RESTARTS"] == "100" and "RANK" not in env and "MASTER_ADDR" not in env
    assert result.world_size == 2 and result.equivalent.max_restarts == 100


@pytest.mark.parametrize(
    "command, message",
    [
        ("--operator 1.6 --nproc-per-node 4 torchrun t.py", "arrived in operator v1.7"),
        ("--operator 2.0 torchrun t.py", "from 1.5 to 1.9"),
        ("--master-replicas 2 torchrun t.py", "at most one Master"),
        ("--master-replicas 1 torchrun t.py", "--gpus-per-node"),
        ("--worker-replicas 2 --elastic python t.py", "sets no RANK"),
    ],
)
def test_kubeflow_bad_input(command, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        layout("kubeflow", command)


# -- the CLI ---------------------------------------------------------------------------------------------------


def test_explain_from_table_env_and_json(capsys):
    code, out, err = run(capsys, "explain", "--from", "slurm", "--", "--nodes", "2", "--ntasks-per-node", "2",
                         "--distribution", "cyclic")  # fmt: skip
    assert code == 0, err
    assert "SLURM_PROCID" in out and "RANK 2, LOCAL 0" in out and "Rules from: Slurm 22.05" in out
    code, out, _ = run(capsys, "explain", "--from", "slurm", "-f", "env", "--", "-N", "2", "-n", "2")
    assert code == 0 and "export RANK=1" in out and "slurm sets SLURM_PROCID=1" in out
    code, out, _ = run(capsys, "explain", "--from", "mpirun", "-f", "json", "--", "mpirun -np 2 -H a,b t.py")
    document = json.loads(out)
    assert document["schema"] == "simdist.launcher/1" and document["nodes"][1]["ranks"] == [1]
    assert document["torchrun_commands"][0].startswith("torchrun --nnodes=2")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--from", "pbs", "--", "-N", "2"], "expected one of slurm, mpirun"),
        (["--from", "slurm"], "needs slurm's options after --"),
        (["--from", "slurm", "--nnodes", "2", "--", "-N", "2"], "not simdist's launch options (--nnodes)"),
        (["--from", "slurm", "--real", "--", "-N", "2"], "--real work on torchrun launches only"),
        (["--from", "slurm", "-f", "tree", "--", "-N", "2"], "table, env and json"),
        (["--from", "deepspeed", "--", "deepspeed", "--hostfile", "/nonexistent", "t.py"], "no hostfile"),
    ],
)
def test_explain_from_bad_input_is_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "explain", *argv)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_explain_from_loads_nothing_heavy():
    code = ("import contextlib, io, sys\nfrom simdist.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['explain', '--from', 'slurm', '--', '-N', '2', '-n', '4'])\n"
            "print(' '.join(m for m in ('torch', 'matplotlib', 'numpy', 'hypothesis') if m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == []


# -- any input: a layout or one ConfigError, never a traceback ----------------------------------------------------

_WORDS = {
    "slurm": ["-N", "-n", "--ntasks-per-node", "-m", "block", "cyclic", "plane=2", "-c", "--cpus-per-node", "-w",
              "node[1-3]", "a,b", "2", "0", "-1", "x", "3,1", "train.py", "--exclusive"],
    "mpirun": ["mpirun", "-np", "-H", "a:2,b", "a", "--map-by", "node", "slot", "ppr:2:node", "ppr:x", "-npernode",
               "--oversubscribe", "--rank-by", "3", "0", "x", "python", "t.py", "--mca", "k", "v"],
    "accelerate": ["accelerate", "launch", "--num_processes", "--num-machines", "--machine_rank", "--main_process_ip",
                   "h", "--main_process_port", "--same_network", "--gpu_ids", "0,1", "4", "3", "0", "x", "t.py"],
    "deepspeed": ["deepspeed", "--num_gpus", "--num_nodes", "--include", "--exclude", "a:0", "a@b", "--master_port",
                  "2", "x", "--no_local_rank", "t.py"],
    "kubeflow": ["--master-replicas", "--worker-replicas", "--nproc-per-node", "--operator", "1.6", "v1.9", "--elastic",
                 "--min-replicas", "--max-replicas", "--gpus-per-node", "2", "0", "auto", "x", "torchrun", "python",
                 "t.py"],
}  # fmt: skip


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(_WORDS)).flatmap(
    lambda name: st.tuples(st.just(name), st.lists(st.sampled_from(_WORDS[name]), max_size=9))))  # fmt: skip
def test_any_launcher_command_gives_a_layout_or_one_config_error(case):
    name, words = case
    try:
        result = launcher_layout(name, words)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert sorted(p.rank for p in result.processes) == list(range(result.world_size))
    assert all(0 <= p.local_rank < p.local_world_size for p in result.processes if p.torch_env.get("LOCAL_RANK"))
