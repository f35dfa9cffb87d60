"""Hugging Face ``accelerate launch``: it is torchrun underneath, with its own arithmetic first.

Rules from accelerate 1.14.0:

- ``src/accelerate/utils/launch.py``, ``prepare_multi_gpu_env``: with more than one machine,
  ``nproc_per_node = num_processes // num_machines`` (``--num_processes`` is the total over
  all machines, and the division floors), ``nnodes = num_machines``,
  ``node_rank = machine_rank``, and ``rdzv_endpoint = main_process_ip:main_process_port``
  (``--same_network``: ``master_addr``/``master_port`` instead); on one machine
  ``nproc_per_node = num_processes`` and ``master_port = main_process_port``; the port
  defaults to 29500; ``--gpu_ids`` becomes ``CUDA_VISIBLE_DEVICES``.
- ``src/accelerate/commands/launch.py``: ``--rdzv_backend`` defaults to ``static``;
  ``multi_gpu_launcher`` hands the arguments to ``torch.distributed.run.run``;
  options may be spelt with ``-`` or ``_``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..._errors import ConfigError
from .._make import make_plan
from .._spec import LaunchSpec
from ._model import LauncherLayout, Parser, layout_from_plan, positive

__all__ = ["accelerate_layout"]

SOURCES = (
    "accelerate 1.14.0 src/accelerate/utils/launch.py: prepare_multi_gpu_env "
    "(nproc_per_node = num_processes // num_machines; rdzv_endpoint = main_process_ip:main_process_port)",
    "accelerate 1.14.0 src/accelerate/commands/launch.py: --rdzv_backend defaults to static; "
    "multi_gpu_launcher runs torch.distributed.run",
)


def _both(name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((name, name.replace("_", "-"))))


def _parser() -> Parser:
    parser = Parser("accelerate launch")
    for name in ("--num_processes", "--num_machines", "--machine_rank", "--main_process_ip", "--main_process_port",
                 "--gpu_ids", "--rdzv_backend", "--rdzv_conf", "--max_restarts", "--role", "--log_dir",
                 "--config_file"):  # fmt: skip
        parser.add_argument(*_both(name), dest=name.lstrip("-"))
    for name in ("--same_network", "--multi_gpu", "--cpu", "--no_python", "--use_deepspeed", "--use_fsdp",
                 "--use_megatron_lm", "--tpu"):  # fmt: skip
        parser.add_argument(*_both(name), dest=name.lstrip("-"), action="store_true")
    parser.add_argument("-m", "--module", action="store_true")
    for name in ("--mixed_precision", "--dynamo_backend", "--num_cpu_threads_per_process", "--monitor_interval",
                 "--tee", "--main_training_function", "--gradient_accumulation_steps", "--zero_stage",
                 "--deepspeed_config_file"):  # fmt: skip
        parser.ignore(*_both(name))
    for name in ("--debug", "--quiet", "--enable_cpu_affinity"):
        parser.ignore(*_both(name), flag=True)
    parser.add_argument("program", nargs=argparse.REMAINDER)
    return parser


def accelerate_layout(argv: Sequence[str]) -> LauncherLayout:
    """The workers ``accelerate launch [OPTIONS] script`` starts on every machine."""
    words = list(argv)
    if words[:2] == ["accelerate", "launch"]:
        words = words[2:]
    elif words[:1] in (["launch"], ["accelerate"]):
        words = words[1:]
    ns = _parser().parse_args(words)
    if ns.config_file is not None:
        raise ConfigError("accelerate launch: simdist does not read --config_file; give its values as options")
    if any((ns.use_deepspeed, ns.use_fsdp, ns.use_megatron_lm, ns.tpu)):
        raise ConfigError("accelerate launch: only the multi-GPU (torchrun) launcher is modelled, not DeepSpeed/FSDP/TPU")
    if ns.num_processes is None:
        raise ConfigError("accelerate launch: give --num_processes (without it accelerate counts this machine's GPUs)")
    total = positive("--num_processes", ns.num_processes)
    machines = positive("--num_machines", ns.num_machines) if ns.num_machines is not None else 1
    machine_rank = positive("--machine_rank", ns.machine_rank, 0) if ns.machine_rank is not None else 0
    if machine_rank >= machines:
        raise ConfigError(f"accelerate launch: --machine_rank {machine_rank} is not below --num_machines {machines}")
    port = positive("--main_process_port", ns.main_process_port, 0) if ns.main_process_port is not None else 29500
    if port == 0:
        raise ConfigError("accelerate launch: --main_process_port 0 picks a free port at run time; give a number")
    notes = []
    backend = ns.rdzv_backend or "static"
    if machines > 1:
        if not ns.main_process_ip:
            raise ConfigError("accelerate launch: more than one machine needs --main_process_ip (machine 0's address)")
        nproc = total // machines
        if nproc == 0:
            raise ConfigError(f"accelerate launch: --num_processes {total} // --num_machines {machines} is 0 per machine")
        if total % machines:
            notes.append(
                f"--num_processes {total} is not a multiple of --num_machines {machines}: accelerate runs "
                f"{total} // {machines} = {nproc} per machine, WORLD_SIZE {nproc * machines}, not {total}"
            )
        endpoint = "" if ns.same_network else f"{ns.main_process_ip}:{port}"
        master_addr = ns.main_process_ip if ns.same_network else "127.0.0.1"
        master_port = port if ns.same_network else None
    else:
        nproc, endpoint, master_addr, master_port = total, "", "127.0.0.1", port
        notes.append("one machine: accelerate always passes --master-port, so torch 2.13's auto-c10d never applies")
    notes.append(f"--num_processes is the total over all machines: {total} → {nproc} per machine × {machines}")
    spec = LaunchSpec(
        nnodes=machines, nproc_per_node=nproc, node_rank=machine_rank, master_addr=master_addr,
        master_port=master_port, rdzv_backend=backend, rdzv_endpoint=endpoint, rdzv_conf=ns.rdzv_conf or (),
        max_restarts=int(ns.max_restarts or 0), role=ns.role or "default",
        visible_devices=None if ns.gpu_ids in (None, "all") else ns.gpu_ids, log_dir=ns.log_dir,
        script=tuple(ns.program) or ("train.py",), module=ns.module, no_python=ns.no_python,
    )  # fmt: skip
    plan = make_plan(spec)

    def launcher_env(node, worker):
        return {"machine_rank": str(node.node_rank), "num_processes": str(total), "num_machines": str(machines),
                "nproc_per_node": str(nproc)}  # fmt: skip

    summary = (f"accelerate launch: --num_processes {total} over --num_machines {machines} → torchrun "
               f"--nnodes={machines} --nproc-per-node={nproc} ({plan.rendezvous.backend} rendezvous at "
               f"{plan.rendezvous.endpoint})")  # fmt: skip
    mapping = (
        ("--nnodes", "--num_machines"),
        ("--nproc-per-node", "--num_processes // --num_machines"),
        ("--node-rank", "--machine_rank"),
        ("--rdzv-endpoint", "--main_process_ip:--main_process_port" + (" (--same_network: --master-addr/port)" if ns.same_network else "")),
        ("RANK, LOCAL_RANK, WORLD_SIZE…", "torchrun's, unchanged"),
    )  # fmt: skip
    return layout_from_plan(
        plan, launcher="accelerate", command=argv, summary=summary, mapping=mapping,
        columns=(("machine_rank", "--machine_rank\n→ --node-rank"), ("nproc_per_node", "num_processes //\nnum_machines")),
        launcher_env_of=launcher_env, notes=notes, sources=SOURCES,
    )  # fmt: skip
