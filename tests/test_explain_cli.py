"""`simdist explain`: formats, contracts, and what bad input gets."""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simdist.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_table_shows_nodes_workers_env_and_commands(capsys):
    code, out, err = run(capsys, "explain", "--nnodes", "2", "--nproc", "2", "--master-addr", "10.0.0.1")
    assert code == 0 and err == ""
    assert "WORLD_SIZE=4" in out
    assert "= 1 × 2 + 1" in out  # RANK 3's arithmetic
    assert "node 1$ torchrun --nnodes=2 --nproc-per-node=2 --node-rank=1 --master-addr=10.0.0.1 --master-port=29500 train.py" in out
    assert "TORCH_NCCL_ASYNC_ERROR_HANDLING=1" in out


def test_tree_matches_the_seed_layout(capsys):
    code, out, _ = run(capsys, "explain", "--nnodes", "2", "--nproc", "2", "--format", "tree")
    assert code == 0
    lines = out.splitlines()
    node1 = lines.index(next(line for line in lines if line.startswith("node_rank=1")))
    assert lines[node1 + 1].startswith("├── local_rank=0 → RANK=2")
    assert lines[node1 + 2].startswith("└── local_rank=1 → RANK=3")


def test_tree_elides_the_middle_of_a_long_node(capsys):
    code, out, _ = run(capsys, "explain", "--nnodes", "2", "--nproc", "1,9", "--master-port", "29500", "-f", "tree")
    assert code == 0
    lines = out.splitlines()
    node1 = lines.index(next(line for line in lines if line.startswith("node_rank=1")))
    assert [line.split("  (")[0] for line in lines[node1 + 1 : node1 + 7]] == [
        "├── local_rank=0 → RANK=1", "├── local_rank=1 → RANK=2", "├── local_rank=2 → RANK=3",
        "├── local_rank=3 → RANK=4", "├── … 4 more local ranks …", "└── local_rank=8 → RANK=9",
    ]  # fmt: skip


def test_env_format_is_sourceable_shell(capsys, tmp_path):
    code, out, _ = run(capsys, "explain", "--nnodes", "2", "--nproc", "2", "--node-rank", "1", "-f", "env")
    assert code == 0
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 2  # only the highlighted node's workers
    script = tmp_path / "w.sh"
    script.write_text(blocks[1] + "\necho $RANK $LOCAL_RANK $WORLD_SIZE $GROUP_RANK\n")
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["3", "1", "4", "1"]


def test_json_is_the_plan_contract(capsys):
    code, out, _ = run(capsys, "explain", "--nnodes", "2", "--nproc", "1,3", "-f", "json", "--master-addr", "h")
    assert code == 0
    plan = json.loads(out)
    assert plan["schema"] == "simdist.plan/1"
    assert plan["world_size"] == 4
    assert plan["launch"]["nproc_per_node"] == [1, 3]
    assert [n["ranks"] for n in plan["nodes"]] == [[0, 0], [1, 3]]
    assert [(w["rank"], w["local_rank"], w["node_rank"]) for w in plan["workers"]] == [(0, 0, 0), (1, 0, 1), (2, 1, 1), (3, 2, 1)]
    assert plan["workers"][2]["env"]["RANK"] == "2" and plan["workers"][0]["env"]["TORCHELASTIC_ERROR_FILE"] is None
    assert {"code", "message"} <= set(plan["warnings"][0])


def test_runtime_values_are_null_in_json(capsys):
    _, out, _ = run(capsys, "explain", "--nproc", "2", "-f", "json")  # 2.13: single node → c10d, random port
    env = json.loads(out)["workers"][0]["env"]
    assert env["MASTER_PORT"] is None and env["TORCHELASTIC_RUN_ID"] is None
    assert env["MASTER_ADDR"] is None  # the rank-0 agent's FQDN


def test_large_cluster_table_elides_but_json_is_complete(capsys):
    code, out, _ = run(capsys, "explain", "--nnodes", "1000", "--nproc", "8", "--master-addr", "h")
    assert code == 0
    assert "more nodes" in out
    assert "node 999$ torchrun" in out and "node 500$" not in out
    assert len(out.splitlines()) < 200  # not one line per node or per worker
    code, out, _ = run(capsys, "explain", "--nnodes", "100", "--nproc", "8", "--master-addr", "h", "-f", "json")
    assert len(json.loads(out)["workers"]) == 800


def test_pasted_torchrun_command(capsys):
    code, out, _ = run(
        capsys, "explain", "-f", "json", "--",
        "torchrun", "--nnodes=2", "--nproc_per_node=2", "--node_rank=1", "--master_addr=192.168.5.228", "--master_port=29400", "xxx.py",
    )
    assert code == 0
    plan = json.loads(out)
    assert plan["launch"]["node_rank"] == 1
    assert plan["workers"][3]["env"]["MASTER_PORT"] == "29400"
    assert plan["nodes"][1]["command"].endswith("--node-rank=1 --master-addr=192.168.5.228 --master-port=29400 xxx.py")


def test_warnings_name_what_goes_wrong(capsys):
    code, out, _ = run(capsys, "explain", "--nproc", "4", "--gpus-per-node", "2", "--master-port", "29500", "-f", "json")
    assert code == 0
    codes = [w["code"] for w in json.loads(out)["warnings"]]
    assert "more_procs_than_gpus" in codes
    code, out, _ = run(capsys, "explain", "--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", "h:1", "--node-rank", "1", "-f", "json")
    assert "node_rank_ignored" in [w["code"] for w in json.loads(out)["warnings"]]


def test_cuda_visible_devices_per_node(capsys):
    code, out, _ = run(
        capsys, "explain", "--nnodes", "2", "--nproc", "2", "--master-addr", "h", "-f", "json",
        "--cuda-visible-devices", "4,5", "--cuda-visible-devices", "6,7", "--gpus-per-node", "8",
    )
    plan = json.loads(out)
    assert [w["gpu"] for w in plan["workers"]] == [4, 5, 6, 7]
    assert plan["workers"][2]["env"]["CUDA_VISIBLE_DEVICES"] == "6,7"
    assert plan["nodes"][1]["idle_gpus"] == [0, 1, 2, 3, 4, 5]
    assert plan["nodes"][1]["command"].startswith("CUDA_VISIBLE_DEVICES=6,7 torchrun")


@pytest.mark.parametrize(
    "argv",
    [
        ["--nnodes", "0"],
        ["--nnodes", "abc"],
        ["--nnodes", "4:2"],
        ["--nnodes", "2", "--node-rank", "2"],
        ["--master-port", "0"],
        ["--master-port", "65536"],
        ["--nnodes", "2", "--nproc", "1,2,3"],
        ["--rdzv-backend", "mpi"],
        ["--format", "yaml"],
        ["--nproc", "x"],
        ["--", "torchrun", "--nnodes"],
        ["--", "bash", "go.sh"],
        ["--nnodes", "2", "--", "torchrun", "x.py"],
        ["--env", "NOPE"],
        ["--no-such-option"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    code, out, err = run(capsys, "explain", *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("simdist explain: error: ")
    assert "Traceback" not in err


def test_plot_option_draws_the_rank_map(capsys, tmp_path):
    target = tmp_path / "ranks.svg"
    code, _, err = run(capsys, "explain", "--nnodes", "2", "--nproc", "2", "-f", "tree", "--plot", str(target))
    assert code == 0, err
    assert target.read_text().lstrip().startswith("<?xml")
    code, _, err = run(capsys, "explain", "--plot", str(tmp_path / "ranks.gif"))
    assert code == 2 and len(err.strip().splitlines()) == 1


VOCABULARY = st.sampled_from(
    ["--nnodes", "--nproc", "--node-rank", "--master-addr", "--master-port", "--rdzv-backend", "--rdzv-endpoint",
     "--max-restarts", "--standalone", "--role", "--gpus-per-node", "--cuda-visible-devices", "--hosts", "--env",
     "-f", "--format", "--", "torchrun", "2", "0", "-1", "1:4", "4:1", "abc", "c10d", "static", "gpu", "json",
     "tree", "env", "table", "1,2", "a,b", "x.py", "=", "K=V", "65536", "[::1]:1", "", "--rdzv-conf", "k"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VOCABULARY, max_size=10))
def test_random_argv_never_tracebacks(argv):
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["explain", *argv])
    assert code in (0, 2)
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    else:
        assert out.getvalue()


def test_python_m_simdist_and_exit_code_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "simdist", "explain", "--nnodes", "0"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "simdist explain: error: --nnodes '0': the number of nodes must be at least 1"


def test_help_lists_the_launch_options():
    result = subprocess.run([sys.executable, "-m", "simdist", "explain", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--nnodes", "--nproc-per-node", "--master-port", "--rdzv-backend", "--cuda-visible-devices"):
        assert option in result.stdout


def test_version_names_the_installed_package(capsys):
    from importlib.metadata import version

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith(f"simdist {version('simdist')} ")
