"""The torchrun command each machine runs, quoted for a POSIX shell."""

from __future__ import annotations

import shlex

from ._spec import DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT, DEFAULT_SIGNALS, LaunchSpec

__all__ = ["torchrun_argv", "torchrun_command"]


def torchrun_argv(spec: LaunchSpec, machine: int, *, launcher: str = "torchrun") -> list[str]:
    """torchrun's argv for one machine, with every option that changes the launch.

    ``launcher`` may be several words (``python -m torch.distributed.run``).
    """
    argv = [*launcher.split(), f"--nnodes={spec.nnodes}", f"--nproc-per-node={spec.nprocs[machine]}"]
    if spec.standalone:
        argv.append("--standalone")
    elif spec.rdzv_backend == "static":
        if spec.rdzv_endpoint:
            argv += [f"--node-rank={machine}", f"--rdzv-endpoint={spec.rdzv_endpoint}"]
        elif spec.max_nodes > 1 or spec.master_port is not None:
            # Always spell these out on multi-node launches: every machine must agree on them.
            port = spec.master_port if spec.master_port is not None else DEFAULT_MASTER_PORT
            if spec.max_nodes > 1:
                argv.append(f"--node-rank={machine}")
            argv += [f"--master-addr={spec.master_addr}", f"--master-port={port}"]
        elif spec.master_addr != DEFAULT_MASTER_ADDR:
            argv.append(f"--master-addr={spec.master_addr}")
    else:
        argv.append(f"--rdzv-backend={spec.rdzv_backend}")
        if spec.rdzv_endpoint:
            argv.append(f"--rdzv-endpoint={spec.rdzv_endpoint}")
    if spec.rdzv_id != "none" and not spec.standalone:
        argv.append(f"--rdzv-id={spec.rdzv_id}")
    if spec.rdzv_conf:
        argv.append("--rdzv-conf=" + ",".join(f"{k}={v}" for k, v in spec.rdzv_conf))
    if spec.max_restarts:
        argv.append(f"--max-restarts={spec.max_restarts}")
    if spec.role[machine] != "default":
        argv.append(f"--role={spec.role[machine]}")
    if spec.virtual_local_rank:
        argv.append("--virtual-local-rank")
    if spec.log_dir is not None:
        argv.append(f"--log-dir={spec.log_dir}")
    if spec.signals_to_handle != DEFAULT_SIGNALS:
        argv.append(f"--signals-to-handle={spec.signals_to_handle}")
    if spec.module:
        argv.append("--module")
    if spec.no_python:
        argv.append("--no-python")
    return argv + list(spec.script)


def launcher_env_for(spec: LaunchSpec, machine: int) -> dict[str, str]:
    """Variables the machine's shell must set before torchrun (they change the workers' env)."""
    env = dict(spec.launcher_env)
    if spec.visible_devices is not None and spec.visible_devices[machine] is not None:
        env["CUDA_VISIBLE_DEVICES"] = spec.visible_devices[machine]
    return env


def torchrun_command(spec: LaunchSpec, machine: int, *, launcher: str = "torchrun") -> str:
    """One line to paste on that machine, ``KEY=VALUE`` prefixes included."""
    prefix = [f"{k}={shlex.quote(v)}" for k, v in sorted(launcher_env_for(spec, machine).items())]
    return " ".join([*prefix, shlex.join(torchrun_argv(spec, machine, launcher=launcher))])
