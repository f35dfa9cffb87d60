"""Two machines for real: network namespaces joined by a veth pair, the generated script run in each.

No mock: each namespace has its own interface (a different name on each "machine", as in the
seed tutorial's ens1f1np1 / ens2f1np1) and its own address from 198.18.0.0/15, the range set
aside for benchmarking. The same script, run in both, must pick node rank 0 in one and 1 in
the other, export that namespace's interface for gloo and NCCL, and start torchrun so that the
job completes with exactly the ranks and environment `simdist explain` predicted. Needs root
and iproute2; anywhere else the test skips and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from simdist import make_plan
from simdist.launch._script import ScriptOptions, hosts_script, prepare_hosts_spec
from simdist.launch._spec import LaunchSpec

pytestmark = pytest.mark.real

ADDRESSES = ("198.18.0.1", "198.18.0.2")  # RFC 2544 benchmarking range: nothing else is used
WORKER = """
import json, os, sys
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
value = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(value)
record = {"rank": dist.get_rank(), "world": dist.get_world_size(), "sum": value.item(), "env": dict(os.environ)}
with open(os.path.join(sys.argv[1], "rank%d.json" % dist.get_rank()), "w") as f:
    json.dump(record, f)
dist.destroy_process_group()
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture
def two_machines():
    """Two namespaces, each with one end of a veth pair: (namespace, interface, address) × 2."""
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: the two-machine test needs root to create network namespaces; it did not run")
    if shutil.which("ip") is None:
        pytest.skip("LOUD SKIP: iproute2's `ip` is missing (apt-get install iproute2); the two-machine test did not run")
    tag = f"{os.getpid() % 100000}"
    machines = [(f"simdist-{tag}-a", f"sdA{tag}", ADDRESSES[0]), (f"simdist-{tag}-b", f"sdB{tag}", ADDRESSES[1])]
    created: list[str] = []
    try:
        for namespace, _, _ in machines:
            done = _ip("netns", "add", namespace, check=False)
            if done.returncode != 0:
                pytest.skip(f"LOUD SKIP: cannot create a network namespace here ({done.stderr.strip()}); "
                            "the two-machine test did not run")  # fmt: skip
            created.append(namespace)
        (ns_a, if_a, addr_a), (ns_b, if_b, addr_b) = machines
        _ip("link", "add", if_a, "type", "veth", "peer", "name", if_b)
        for namespace, interface, address in machines:
            _ip("link", "set", interface, "netns", namespace)
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", interface)
            _ip("-n", namespace, "link", "set", interface, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        yield machines
    finally:
        for namespace in created:
            for pid in _ip("netns", "pids", namespace, check=False).stdout.split():
                try:  # only processes started by this test can live in its fresh namespaces
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _ip("netns", "del", namespace, check=False)
        for _, interface, _ in machines:
            _ip("link", "del", interface, check=False)  # only if the move into a namespace failed


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=30)


def test_one_script_two_machines_right_rank_right_interface_job_completes(tmp_path, two_machines):
    pytest.importorskip("torch")
    (ns_a, if_a, _), (ns_b, if_b, _) = two_machines
    out = tmp_path / "out"
    out.mkdir()
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    spec = prepare_hosts_spec(LaunchSpec(nnodes=2, nproc_per_node=(2, 1), master_port=29517, hosts=ADDRESSES,
                                         script=(str(worker), str(out))))  # fmt: skip
    options = ScriptOptions(ifnames=(if_a, if_b), torchrun=((sys.executable, "-m", "torch.distributed.run"),))
    script = tmp_path / "launch.sh"
    script.write_text(hosts_script(spec, options))

    stranger = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert stranger.returncode == 1 and "is none of the hosts (198.18.0.1 198.18.0.2)" in stranger.stderr

    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = []
    for namespace, log in zip((ns_a, ns_b), logs, strict=True):
        with open(log, "w") as handle:
            processes.append(subprocess.Popen(["ip", "netns", "exec", namespace, "bash", str(script)], stdout=handle,
                                              stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        for process in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for process in processes:
            _stop(process)
    texts = [log.read_text() for log in logs]
    assert [p.returncode for p in processes] == [0, 0], "\n---\n".join(texts)
    assert f"node 0 of 2 (198.18.0.1, interface {if_a})" in texts[0]
    assert f"node 1 of 2 (198.18.0.2, interface {if_b})" in texts[1]

    predicted = make_plan(spec).to_dict()["workers"]
    records = {int(p.stem[4:]): json.loads(p.read_text()) for p in out.glob("rank*.json")}
    assert sorted(records) == [0, 1, 2]
    for worker_plan in predicted:
        record = records[worker_plan["rank"]]
        assert record["world"] == 3 and record["sum"] == 6.0  # 1 + 2 + 3: every rank took part
        for key, value in worker_plan["env"].items():
            if value is not None:
                assert record["env"].get(key) == value, (worker_plan["rank"], key)
        interface = if_a if worker_plan["node_rank"] == 0 else if_b
        assert record["env"]["GLOO_SOCKET_IFNAME"] == interface
        assert record["env"]["NCCL_SOCKET_IFNAME"] == f"={interface}"
