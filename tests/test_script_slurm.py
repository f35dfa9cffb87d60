"""A real one-node Slurm: the generated sbatch scripts submitted with `sbatch --wait`.

The test writes its own slurm.conf (no munge, no cgroups: auth/none, proctrack/linuxproc),
starts slurmctld and slurmd in the foreground, submits, and stops them again. It checks that
the --slurm script starts one torchrun per node even when sbatch is asked for more tasks, that
every worker's environment is what `simdist explain` predicts for the command the script's
header prints, and that the --slurm-native tasks get the ranks `explain --from slurm` shows.
Where Slurm's daemons cannot start (not root, not installed), the test skips and says why.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simdist.cli import main

pytestmark = pytest.mark.real

WORKER = """
import json, os, sys
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
value = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(value)
record = {"sum": value.item(), "env": dict(os.environ)}
with open(os.path.join(sys.argv[1], "rank%d.json" % dist.get_rank()), "w") as f:
    json.dump(record, f)
dist.destroy_process_group()
"""
NEEDED = ("slurmctld", "slurmd", "sbatch", "scontrol", "sinfo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


@pytest.fixture
def slurm(tmp_path_factory):
    """A running one-node cluster: yields the environment to run Slurm commands with."""
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: a private Slurm needs root (SlurmUser=root); the Slurm test did not run")
    missing = [name for name in NEEDED if _which(name) is None]
    if missing:
        pytest.skip(f"LOUD SKIP: Slurm is not installed ({', '.join(missing)} missing; apt-get install slurm-wlm); "
                    "the Slurm test did not run")  # fmt: skip
    root = tmp_path_factory.mktemp("slurm")
    host = socket.gethostname().split(".")[0]
    for folder in ("state", "spool"):
        (root / folder).mkdir()
    conf = root / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=simdisttest", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/none", "CredType=cred/none", f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/ctld.log", f"SlurmdLogFile={root}/d.log", "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}", "ReturnToService=2", "MpiDefault=none",
        "MinJobAge=4",  # sbatch --wait then polls every 2 s instead of sleeping 2, 8, 32 s (sbatch.c _job_wait)
        f"NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", "",
    ]))  # fmt: skip
    env = {**os.environ, "SLURM_CONF": str(conf)}
    env = {k: v for k, v in env.items() if not (k.startswith("SLURM_") and k != "SLURM_CONF")}
    daemons = [
        subprocess.Popen([_which("slurmctld"), "-D", "-f", str(conf)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True),
        subprocess.Popen([_which("slurmd"), "-D", "-f", str(conf)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True),
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            if any(d.poll() is not None for d in daemons):
                break
            done = subprocess.run([_which("sinfo"), "-h", "-o", "%T"], env=env, capture_output=True, text=True,
                                  timeout=30)  # fmt: skip
            state = done.stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        if state != "idle":
            logs = " | ".join((root / name).read_text()[-300:] for name in ("ctld.log", "d.log") if (root / name).exists())
            pytest.skip(f"LOUD SKIP: Slurm did not come up here (node state {state!r}; {logs}); the Slurm test did not run")
        yield {"env": env, "host": host, "root": root}
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(timeout=30)


def _simdist(capsys, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _submit(slurm, script: Path, *options: str) -> str:
    done = subprocess.run([_which("sbatch"), "--wait", "--parsable", "-o", str(script.with_suffix(".log")), *options,
                           str(script)], env=slurm["env"], capture_output=True, text=True, timeout=300)  # fmt: skip
    log = script.with_suffix(".log")
    assert done.returncode == 0, done.stderr + (log.read_text() if log.exists() else "")
    return done.stdout.strip().split(";")[0]


def _records(folder: Path) -> dict[int, dict]:
    return {int(p.stem[4:]): json.loads(p.read_text()) for p in folder.glob("rank*.json")}


@pytest.fixture
def worker(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "worker.py"
    path.write_text(WORKER)
    return path


def _check_torchrun_job(capsys, tmp_path, slurm, worker, sbatch_options: tuple[str, ...]) -> None:
    """The --slurm script: one torchrun per node, every worker's env as `explain` predicts."""
    out = tmp_path / "out"
    out.mkdir(parents=True)
    port = _free_port()
    script = tmp_path / "job.sbatch"
    name = "it's job #1 $(x)"  # quotes, a '#' and a would-be command: #SBATCH must read it back as written
    _simdist(capsys, "script", "--slurm", "--nnodes", "1", "--nproc", "2", "--master-port", str(port), "--torchrun",
             f"{sys.executable} -m torch.distributed.run", "--job-name", name, "-o", str(script), str(worker),
             str(out))  # fmt: skip
    job = _submit(slurm, script, *sbatch_options)
    records = _records(out)
    assert sorted(records) == [0, 1], f"{sbatch_options}: exactly nproc workers, one torchrun, not one per sbatch task"
    header = next(line for line in script.read_text().splitlines() if line.startswith("#   simdist explain -- "))
    pasted = header[len("#   simdist explain -- "):].replace("NODE0", slurm["host"]).replace("JOBID", job)
    predicted = json.loads(_simdist(capsys, "explain", "-f", "json", "--", *shlex.split(pasted)))
    for plan in predicted["workers"]:
        env = records[plan["rank"]]["env"]
        assert records[plan["rank"]]["sum"] == 3.0
        for key, value in plan["env"].items():
            if value is not None:
                assert env.get(key) == value, (sbatch_options, plan["rank"], key, env.get(key), value)
        assert env["TORCHELASTIC_RUN_ID"] == job  # the job id is the rendezvous id
        assert (env["SLURM_NTASKS"], env["SLURM_PROCID"], env["SLURM_LOCALID"]) == ("1", "0", "0")
        assert env["SLURM_JOB_NAME"] == name


def _check_native_job(capsys, tmp_path, slurm, worker) -> None:
    """The --slurm-native script: each task's ranks are what `explain --from slurm` shows."""
    out = tmp_path / "out"
    out.mkdir(parents=True)
    script = tmp_path / "native.sbatch"
    _simdist(capsys, "script", "--slurm-native", "--nnodes", "1", "--nproc", "2", "--master-port", str(_free_port()),
             "--python", sys.executable, "-o", str(script), str(worker), str(out))  # fmt: skip
    _submit(slurm, script)
    records = _records(out)
    layout = json.loads(_simdist(capsys, "explain", "--from", "slurm", "-f", "json", "--", "--nodes", "1",
                                 "--ntasks-per-node", "2", "--distribution", "block"))  # fmt: skip
    assert sorted(records) == [p["rank"] for p in layout["processes"]] == [0, 1]
    for process in layout["processes"]:
        env = records[process["rank"]]["env"]
        assert records[process["rank"]]["sum"] == 3.0
        for key, value in process["torch_env"].items():
            assert env.get(key) == value, (process["rank"], key)
        for key in ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_NTASKS"):
            assert env.get(key) == process["launcher_env"][key], (process["rank"], key)
        assert "TORCHELASTIC_RUN_ID" not in env  # no torchrun in this convention


def test_sbatch_scripts_on_a_real_one_node_slurm(capsys, tmp_path, slurm, worker):
    """One cluster, three jobs (one test, so that parallel test workers never start two clusters)."""
    _check_torchrun_job(capsys, tmp_path / "as-written", slurm, worker, ())
    _check_torchrun_job(capsys, tmp_path / "sbatch-asks-for-2-tasks", slurm, worker, ("--ntasks-per-node=2",))
    _check_native_job(capsys, tmp_path / "native", slurm, worker)
