"""The calibration sweep: what each torchrun worker runs for ``simdist calibrate``.

It is a scenario like any other (``sweep(dist)``, run by ``simdist.real._worker`` after
``init_process_group``), configured by ``SIMDIST_CALIBRATE`` (JSON: ops, sizes,
warm-up and timed iterations). Every rank returns its own measurements; the
launching simdist averages them over ranks, as nccl-tests does, and fits the model.

Link classes are measured one at a time, each on a group of its own: ``intra`` on the
ranks of the first machine that has two or more, ``inter`` on one rank per machine.
Ranks outside the group wait at a barrier. Sizes are interleaved — a few timed
iterations of every size, then again — so that a machine that slows down for a while
(a shared CPU) slows every size alike instead of bending the curve.

Loaded from its file path (as ``FILE.py:sweep``), so it imports simdist absolutely.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time

TYPE = "float"  # nccl-tests' name for float32, the type every sweep uses
ITEM = 4
GLOO_BURST = 3  # iterations per size per round (each timed on its own)
NCCL_BURST = 5  # iterations per timed sample on a GPU (one synchronize per sample, as nccl-tests)
NCCL_ALGORITHMS = (("ring", "Ring"), ("tree", "Tree"))  # all_reduce, forced with NCCL_ALGO
MODEL_ALGORITHM = {"all_reduce": "ring", "all_gather": "ring", "reduce_scatter": "ring", "broadcast": "tree",
                   "all_to_all": "direct"}  # fmt: skip


def plan_phases(layout: list[tuple[int, int]]) -> list[tuple[str, list[int]]]:
    """(link class, global ranks) to measure, from each rank's (node, local rank)."""
    nodes: dict[int, list[int]] = {}
    for rank, (node, _local) in enumerate(layout):
        nodes.setdefault(node, []).append(rank)
    phases = []
    multi = [sorted(ranks) for _, ranks in sorted(nodes.items()) if len(ranks) >= 2]
    if multi:
        phases.append(("intra", multi[0]))
    if len(nodes) >= 2:
        phases.append(("inter", [min(ranks) for _, ranks in sorted(nodes.items())]))
    return phases


def counts(op: str, nbytes: int, n: int) -> tuple[int, int]:
    """(count as nccl-tests prints it, bytes really moved) for a requested size ``nbytes``.

    all_reduce and broadcast move ``count`` elements; all_gather, reduce_scatter and
    all_to_all take ``count`` per rank, and their size is the whole array (× n).
    """
    if op in ("all_reduce", "broadcast"):
        count = max(1, nbytes // ITEM)
        return count, count * ITEM
    count = max(1, nbytes // (ITEM * n))
    return count, count * ITEM * n


class _Op:
    """One collective on a group, over views of buffers sized for the largest size."""

    def __init__(self, torch, dist, op: str, group, ranks: list[int], largest: int, device) -> None:
        self.dist, self.op, self.group, self.ranks = dist, op, group, ranks
        n = len(ranks)
        _, total = counts(op, largest, n)
        elements = total // ITEM
        inputs = elements // n if op == "all_gather" else elements
        outputs = elements // n if op == "reduce_scatter" else elements
        self.input = torch.zeros(inputs, dtype=torch.float32, device=device)
        self.output = torch.zeros(outputs, dtype=torch.float32, device=device) if op != "all_reduce" else None
        # torch 2.13 names the single-tensor variants *_single; older ones *_tensor.
        self.gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
        self.scatter = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor

    def call(self, nbytes: int):
        n = len(self.ranks)
        count, total = counts(self.op, nbytes, n)
        dist, group, op = self.dist, self.group, self.op
        if op == "all_reduce":
            data = self.input[:count]
            return lambda: dist.all_reduce(data, group=group)
        if op == "broadcast":
            data, root = self.input[:count], self.ranks[0]
            return lambda: dist.broadcast(data, src=root, group=group)
        elements = total // ITEM
        if op == "all_gather":
            inp, out = self.input[:count], self.output[:elements]
            return lambda: self.gather(out, inp, group=group)
        if op == "reduce_scatter":
            inp, out = self.input[:elements], self.output[:count]
            return lambda: self.scatter(out, inp, group=group)
        inp, out = self.input[:elements], self.output[:elements]
        return lambda: dist.all_to_all_single(out, inp, group=group)


class _Progress:
    """The lowest rank of the measuring group writes where the sweep is, for the launcher's bars."""

    def __init__(self, folder: str | None, phases: int) -> None:
        self.path = os.path.join(folder, "progress.json") if folder else None
        self.phases = phases

    def __call__(self, **where) -> None:
        if self.path is None:
            return
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w") as handle:  # no fsync: a lost update only delays a progress bar
            json.dump({"phases": self.phases, **where}, handle)
        os.replace(temporary, self.path)


def _measure(torch, dist, config: dict, phase: int, link: str, ranks: list[int], group, op: str, algorithm: str,
             backend_algorithm: str, backend: str, device, progress) -> list[dict]:  # fmt: skip
    n = len(ranks)
    sizes = sorted({counts(op, s, n)[1] for s in config["sizes"]})
    runner = _Op(torch, dist, op, group, ranks, max(sizes), device)
    calls = {s: runner.call(s) for s in sizes}
    gpu = backend == "nccl"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    burst = NCCL_BURST if gpu else GLOO_BURST
    rounds = math.ceil(config["iters"] / burst)  # iters: timed calls per size, in rounds of a burst each
    for size in sizes:
        for _ in range(config["warmup"]):
            calls[size]()
    sync()
    began = time.perf_counter()
    samples: dict[int, list[float]] = {s: [] for s in sizes}  # one per round
    slowest = dict.fromkeys(sizes, 0.0)
    clock = time.perf_counter
    for index in range(rounds):
        # Each round starts at another size, so no size is always the one after the largest.
        shift = index % len(sizes)
        for size in sizes[shift:] + sizes[:shift]:
            call = calls[size]
            call()  # untimed: the first call after another size pays for refilling caches
            if gpu:
                sync()
                start = clock()
                for _ in range(burst):
                    call()
                sync()
                samples[size].append((clock() - start) / burst)  # as nccl-tests: a burst's average
            else:  # the fastest of the burst: a timeslice lost to another process is not the collective's
                times = []
                for _ in range(burst):
                    start = clock()
                    call()
                    times.append(clock() - start)
                samples[size].append(min(times))
                slowest[size] = max(slowest[size], max(times))
        progress(phase=phase, link=link, op=op, algorithm=algorithm, round=index + 1, rounds=rounds,
                 elapsed=round(time.perf_counter() - began, 3))  # fmt: skip
    points = []
    for size in sizes:
        taken = samples[size]
        points.append({
            "phase": phase, "link": link, "op": op, "algorithm": algorithm, "backend_algorithm": backend_algorithm,
            "ranks": n, "bytes": size, "count": counts(op, size, n)[0], "type": TYPE,
            "median": statistics.median(taken), "min": min(taken), "max": max(max(taken), slowest[size]),
            "iters": len(taken) * burst,
        })  # fmt: skip
    return points


def _variants(backend: str, op: str, config: dict) -> list[tuple[str, str, str | None]]:
    """(simdist algorithm, what the backend ran, NCCL_ALGO or None) to measure ``op`` with."""
    if backend == "nccl" and op == "all_reduce" and config.get("nccl_algorithms", True):
        return [(name, f"NCCL_ALGO={forced}", forced) for name, forced in NCCL_ALGORITHMS]
    own = "NCCL's choice" if backend == "nccl" else "gloo's own"
    return [(MODEL_ALGORITHM[op], own, None)]


def sweep(dist):
    """Measure every configured op and size on every link class; return this rank's points."""
    import torch

    config = json.loads(os.environ["SIMDIST_CALIBRATE"])
    rank, world = dist.get_rank(), dist.get_world_size()
    backend = dist.get_backend()
    device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
    mine = torch.tensor([int(os.environ["GROUP_RANK"]), int(os.environ["LOCAL_RANK"])], dtype=torch.int64,
                        device=device)  # fmt: skip
    everyone = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(everyone, mine)
    layout = [(int(t[0]), int(t[1])) for t in everyone]
    phases = plan_phases(layout)
    points: list[dict] = []
    for phase, (link, ranks) in enumerate(phases):
        progress = _Progress(os.environ.get("SIMDIST_OUT") if rank == ranks[0] else None, len(phases))
        # Every rank creates every group, in the same order; only the members use them.
        own_choice = dist.new_group(ranks)
        for op in config["ops"]:
            for algorithm, backend_algorithm, forced in _variants(backend, op, config):
                saved = os.environ.get("NCCL_ALGO")
                if forced:
                    os.environ["NCCL_ALGO"] = forced  # read when the group's communicator is created
                group = dist.new_group(ranks) if forced else own_choice
                if rank in ranks:
                    points += _measure(torch, dist, config, phase, link, ranks, group, op, algorithm,
                                       backend_algorithm, backend, device, progress)  # fmt: skip
                if forced:
                    if saved is None:
                        os.environ.pop("NCCL_ALGO", None)
                    else:
                        os.environ["NCCL_ALGO"] = saved
                dist.barrier()
    nccl = None
    if backend == "nccl":
        version = torch.cuda.nccl.version()
        nccl = ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
    return {"layout": [list(x) for x in layout], "points": points, "nccl_version": nccl,
            "device": torch.cuda.get_device_name(device) if backend == "nccl" else "cpu"}  # fmt: skip
