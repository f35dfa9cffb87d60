"""The collectives engine: matches what ranks call, computes results, keeps time, finds hangs.

One engine serves one World (one generation of workers). Ranks submit operations
through their simulated ProcessGroup; the engine

* matches collectives by (group, sequence number) and point-to-point messages by
  (group, src, dst, tag) in FIFO order, as the backends do;
* compares the calls at each sequence number — op, shape, dtype, root, reduce op —
  and reports a difference in the wording of torch's ``TORCH_DISTRIBUTED_DEBUG=DETAIL``
  fingerprint check, then makes the ranks fail the way the real backend would;
* runs the chosen algorithm's schedule on the real tensors (ring, tree, recursive
  doubling), times each step with the α-β-γ model and records it;
* notices when no rank can make progress (a deadlock) and names every rank's
  pending operation, instead of hanging.

Interleavings: when several ranks can resume at the same virtual time, the order
is drawn from the seed (``shuffle=True``), so Hypothesis can explore them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._algorithms import ALGORITHMS, CostModel, bus_factor, choose_algorithm, schedule, step_count
from ._ops import OP_TYPES, Op, differences, fingerprint, same_call
from ..sim._kernel import Event, Kernel
from ._reductions import Combine, flat_view, gloo_ring_all_reduce, reduce_in_order, run_schedule, splits
from .._errors import WorkerError
from ..sim._world import Problem, World

Recorder = Callable[..., None]  # record(kind, node, rank, **detail): the simulation's trace

__all__ = ["CollectiveEngine"]

MAX_TRACED_STEPS_GROUP = 64  # ranks; beyond this, steps are summarised, not listed
MAX_EXECUTED_GROUP = 256  # ranks; beyond this the reduction runs in rank order (same values for integers)
# The variants move data as their base collective does: same schedule, step count and bus factor.
SCHEDULE_KIND = {
    "all_reduce_coalesced": "all_reduce", "all_gather_into_tensor": "all_gather",
    "reduce_scatter_tensor": "reduce_scatter", "barrier": "all_reduce",
}  # fmt: skip


class CollectiveEngine:
    """Matches, runs and times the operations of one World's ranks."""

    def __init__(self, kernel: Kernel, record: Recorder, world: World, backend: str, algorithm: str,
                 cost: CostModel, timeout: float, trace_steps: bool, exact_steps: bool = False,
                 detail: bool = False) -> None:  # fmt: skip
        self.kernel = kernel
        self.record = record
        self.world = world
        world.on_rank_gone.append(self.rank_gone)
        self.backend = backend
        self.algorithm = algorithm
        self.cost = cost
        self.timeout = timeout
        self.trace_steps = trace_steps
        self.exact_steps = exact_steps
        self._choices: dict[tuple, str] = {}  # cached choice of algorithm per (op, size, node layout)
        self.pending: dict[tuple, dict[int, Op]] = {}  # (group, seq) -> rank -> op
        self.p2p: dict[tuple, list[Op]] = {}  # (group, src, dst, tag) -> unmatched sends
        self.recvs: dict[int, list[Op]] = {}  # dst -> unmatched receives, in the order posted
        # Rank states, kept as sets so that every check is O(1) even with 10^4 ranks:
        self.running: set[int] = set()  # executing, or about to resume
        self.blocked_on: dict[int, Op] = {}  # in Work.wait()
        self.unmatched: dict[int, Op] = {}  # ... on an operation not every participant has called yet
        self.exited: dict[int, str] = {}  # rank -> "done" (scenario returned) | "dead" (worker died)
        self.started = 0
        self.node_of: dict[int, int] = {}
        self._problem: Problem | None = None
        self._broken: set[tuple] = set()  # (group, seq) of collectives whose calls disagree
        self.detail = detail  # TORCH_DISTRIBUTED_DEBUG=DETAIL: the ProcessGroupWrapper checks every call
        # rank -> other errors real torch may raise instead of the predicted one (timing races)
        self.alternatives: dict[int, list[str]] = {}

    @property
    def problem(self) -> Problem | None:
        """The first mismatch or deadlock among these ranks (also reported to the world)."""
        return self._problem

    @problem.setter
    def problem(self, problem: Problem) -> None:
        self._problem = problem
        self.world.problems.append(problem)

    # -- rank lifecycle --------------------------------------------------------------------

    def rank_started(self, rank: int, node: int) -> None:
        self.running.add(rank)
        self.started += 1
        self.node_of[rank] = node

    def _leave(self, rank: int, how: str) -> None:
        self.running.discard(rank)
        self.blocked_on.pop(rank, None)
        self.unmatched.pop(rank, None)
        self.exited[rank] = how

    def rank_finished(self, rank: int) -> None:
        """The rank's scenario returned: peers still waiting for it were skipped."""
        self._leave(rank, "done")
        self._peer_gone(rank, skipped=True)
        self._check_deadlock()

    def rank_gone(self, rank: int) -> None:
        """The rank's worker died (killed or crashed): peers blocked on it see the connection drop."""
        if rank in self.exited:
            return
        self._leave(rank, "dead")
        self._peer_gone(rank, skipped=False)

    def _peer_gone(self, rank: int, skipped: bool) -> None:
        """gloo: a blocked peer of a process that exited gets 'Connection closed by peer' at once.

        A peer that returned from its scenario while others wait for it skipped a
        collective (a deadlock in the making); one that died is a worker failure.
        """
        victims = [op for r, op in sorted(self.unmatched.items()) if self._waits_for(op, rank)]
        if not victims:
            return
        if self.problem is None and skipped:
            pending = {r: op.describe() for r, op in sorted(self.blocked_on.items())}
            pending[rank] = "exited"
            self.problem = Problem(
                "deadlock",
                self.kernel.now,
                f"rank {rank} exited while {_ranks_phrase([op.rank for op in victims])} for it in "
                f"{victims[0].describe()} — a rank skipped a collective or a matching send/recv",
                pending,
                self._real_text("closed", victims[0]),
            )
            self.record("deadlock", None, None, message=self.problem.message, pending=_str_keys(pending))
        for op in victims:
            if self.backend == "nccl":
                self._fail_later(op, self.timeout, "DistBackendError", self._watchdog(op))
            else:
                self._fail_now(op, "RuntimeError", self._gloo_closed(rank))

    def _waits_for(self, op: Op, rank: int) -> bool:
        if op.kind in ("send", "recv"):
            return op.peer is None or op.peer == rank
        members = range(self.world.size) if op.group[1] == "WORLD" else op.group[1]
        return rank in members

    # -- submitting -------------------------------------------------------------------------

    def submit(self, op: Op) -> Event:
        op.event = self.kernel.event()
        op.submitted = self.kernel.now
        if op.kind in ("send", "recv"):
            self._submit_p2p(op)
        else:
            self._submit_collective(op)
        return op.event

    def _submit_collective(self, op: Op) -> None:
        key = (op.group, op.seq)
        calls = self.pending.setdefault(key, {})
        if op.rank in calls:  # pragma: no cover - a rank cannot reuse a sequence number
            raise RuntimeError("sequence number reused")
        first = next(iter(calls.values()), None)
        calls[op.rank] = op
        members = self.world.size if op.group[1] == "WORLD" else len(op.group[1])
        if self.detail:
            # ProcessGroupWrapper compares every rank's fingerprint once all have called.
            if len(calls) < members:
                return
            ops = [calls[r] for r in sorted(calls)]
            odd = next((o for o in ops[1:] if not same_call(ops[0], o)), None)
            if odd is not None:
                self._mismatch(odd, ops[0])  # quoted as the lowest rank raises it
                return
        elif key in self._broken:  # a late call to a collective that already went wrong: it waits
            self._fail_later(op, self.timeout, *self._timeout_error(op))
            return
        elif first is not None and not same_call(first, op):
            self._broken.add(key)
            self._mismatch(first, op)
            return
        if len(calls) == members and self.problem is None:
            del self.pending[key]
            self._execute([calls[r] for r in sorted(calls)])

    def _submit_p2p(self, op: Op) -> None:
        if op.kind == "send":
            for i, recv in enumerate(self.recvs.get(op.peer, ())):
                if recv.group == op.group and recv.tag == op.tag and recv.peer in (None, op.rank):
                    del self.recvs[op.peer][i]
                    self._deliver(op, recv)
                    return
            self.p2p.setdefault((op.group, op.rank, op.peer, op.tag), []).append(op)
            return
        candidates = []
        for (group, src, dst, tag), sends in self.p2p.items():
            if group == op.group and dst == op.rank and tag == op.tag and sends and op.peer in (None, src):
                candidates.append(sends[0])
        if candidates:
            send = min(candidates, key=lambda s: (s.submitted, s.rank))  # earliest posted send wins
            self.p2p[(send.group, send.rank, send.peer, send.tag)].pop(0)
            self._deliver(send, op)
            return
        self.recvs.setdefault(op.rank, []).append(op)

    # -- blocking and deadlocks -----------------------------------------------------------------

    def waiting(self, rank: int, op: Op) -> None:
        """``rank`` now blocks on ``op`` (its Work.wait())."""
        self.running.discard(rank)
        self.blocked_on[rank] = op
        if op.event.triggered or op.matched:
            return
        self.unmatched[rank] = op
        gone = next((r for r in sorted(self.exited) if self._waits_for(op, r)), None)
        if gone is not None:  # waiting for a process that has already exited
            self._peer_gone(gone, skipped=self.exited[gone] == "done")
            return
        self._check_deadlock()

    def resumed(self, rank: int) -> None:
        self.running.add(rank)
        self.blocked_on.pop(rank, None)
        self.unmatched.pop(rank, None)

    def _check_deadlock(self) -> None:
        if self.problem is not None or not self.unmatched:
            return
        if self.started < self.world.size or self.running:
            return  # someone has not started yet, or can still act
        if "dead" in self.exited.values():
            return  # a worker died: the agents will tear down and maybe restart, not a hang
        if len(self.unmatched) != len(self.blocked_on):
            return  # someone's operation is under way: it will complete and wake them
        pending = {r: op.describe() for r, op in sorted(self.blocked_on.items())}
        for r, how in sorted(self.exited.items()):
            if how == "done":
                pending.setdefault(r, "finished")
        first = self.blocked_on[min(self.blocked_on)]
        lines = "; ".join(f"rank {r}: {what}" for r, what in sorted(pending.items()))
        self.problem = Problem("deadlock", self.kernel.now, f"no rank can make progress — {lines}", pending,
                                  self._real_text("hang", first))  # fmt: skip
        self.record("deadlock", None, None, message=self.problem.message, pending=_str_keys(pending))
        self._time_out_together([op for _, op in sorted(self.blocked_on.items())])

    # -- mismatches ------------------------------------------------------------------------------

    def _mismatch(self, first: Op, other: Op) -> None:
        calls = self.pending.get((other.group, other.seq), {})
        ops = [calls[r] for r in sorted(calls)]
        if self.problem is None:
            text = _mismatch_text(other, first)
            pending = {op.rank: op.describe() for op in ops}
            summary = "; ".join(f"rank {r}: {what}" for r, what in pending.items())
            message = (f"ranks disagree at collective #{other.seq} of {_group_name(other)} — {summary}. "
                       f"torch with TORCH_DISTRIBUTED_DEBUG=DETAIL reports: {text}")  # fmt: skip
            self.problem = Problem("collective_mismatch", self.kernel.now, message, pending,
                                      self._real_text("mismatch", first, other))  # fmt: skip
            self.record("collective_mismatch", None, None, message=text, pending=_str_keys(pending))
        if self.detail:  # the ProcessGroupWrapper raises at the call, on every rank involved
            for op in ops:
                peer = next(o for o in ops if not same_call(o, op))
                self._fail_now(op, "RuntimeError", _mismatch_text(op, peer))
            return
        if self.backend == "gloo" and first.kind == other.kind and first.root == other.root and first.tensors and other.tensors:
            small, big = sorted([first, other], key=lambda o: o.tensors[0].numel() * o.tensors[0].element_size())
            if small.tensors[0].nbytes != big.tensors[0].nbytes:
                # gloo: the receiver of too many bytes aborts the process; its peers see the reset
                self._abort_later(small, 0.0, (
                    "terminate called after throwing an instance of 'gloo::EnforceNotMet' what(): [enforce fail at "
                    f"gloo/transport/tcp/pair.cc:456] op.preamble.length <= op.nbytes. {big.tensors[0].nbytes} vs "
                    f"{small.tensors[0].nbytes}. Received data size doesn't match expected size. Is there a "
                    "distributed collective mismatch in your code?"
                ))  # fmt: skip
                for op in ops:
                    if op is not small:
                        self._fail_now(op, "RuntimeError", (
                            "[gloo/transport/tcp/pair.cc:537] Read error: Connection reset by peer. This is typically "
                            "caused by a remote worker hanging or bugs in the application. Check the logs of the "
                            "remote worker before reporting an error."
                        ))  # fmt: skip
                return
        self._time_out_together(ops)  # otherwise nobody matches: every rank waits until its timeout

    def _time_out_together(self, ops: list[Op]) -> None:
        """Every op in ``ops`` fails when its timeout fires, all at the same virtual time.

        Real timers do not tie: under gloo the first rank to time out exits, and a peer
        whose own timer has not fired yet sees its connection close instead. Both
        texts are possible for every rank (at least one rank sees the timeout), so the
        other one is recorded as an accepted alternative.
        """
        for op in ops:
            self._fail_later(op, self.timeout, *self._timeout_error(op))
            if self.backend == "gloo" and len(ops) > 1:
                first_peer = min(o.rank for o in ops if o.rank != op.rank)
                self.alternatives[op.rank] = [f"RuntimeError: {self._gloo_closed(first_peer)}"]

    # -- failures ----------------------------------------------------------------------------------

    def _timeout_error(self, op: Op) -> tuple[str, str]:
        if self.backend == "nccl":
            return "DistBackendError", self._watchdog(op)
        verb = _gloo_verb(op)
        line = 129 if verb == "send" else 78
        return "RuntimeError", (
            f"[gloo/transport/tcp/unbound_buffer.cc:{line}] Timed out waiting {int(self.timeout * 1000)}ms "
            f"for {verb} operation to complete"
        )

    def _watchdog(self, op: Op) -> str:
        numel = op.tensors[0].numel() if op.tensors else 0
        ms = int(self.timeout * 1000)
        return (
            f"[Rank {op.rank}] Watchdog caught collective operation timeout: WorkNCCL(SeqNum={op.seq or 0}, "
            f"OpType={OP_TYPES.get(op.kind, op.kind.upper())}, NumelIn={numel}, NumelOut={numel}, Timeout(ms)={ms}) "
            f"ran for {ms + 60} milliseconds before timing out."
        )

    @staticmethod
    def _gloo_closed(peer: int) -> str:
        return (
            f"[gloo/transport/tcp/pair.cc:553] Connection closed by peer (rank {peer}). This is typically caused by a "
            "remote worker crashing. Check the logs of the remote worker before reporting an error."
        )

    def _real_text(self, kind: str, op: Op, other: Op | None = None) -> str:
        ms = int(self.timeout * 1000)
        if self.detail and kind == "mismatch":
            return ("with TORCH_DISTRIBUTED_DEBUG=DETAIL (set here) every rank involved raises "
                    "'RuntimeError: Detected mismatch between collectives on ranks' at the call, at once")  # fmt: skip
        if self.backend == "nccl":
            return (f"NCCL hangs until the watchdog fires after {ms} ms: '{self._watchdog(op)}', then "
                    "TORCH_NCCL_ASYNC_ERROR_HANDLING=1 tears the process down")  # fmt: skip
        if kind == "closed":
            return "gloo: the waiting ranks fail at once with 'Connection closed by peer … remote worker crashing'"
        if kind == "mismatch" and other is not None and op.kind == other.kind and op.tensors and other.tensors and (
            op.tensors[0].nbytes != other.tensors[0].nbytes
        ):
            return ("gloo: the rank receiving more bytes than it expects aborts (SIGABRT, 'Received data size doesn't "
                    "match expected size. Is there a distributed collective mismatch in your code?'); its peers get "
                    "'Connection reset by peer'")  # fmt: skip
        verb = _gloo_verb(op)
        text = (f"gloo: every waiting rank fails after the {ms} ms timeout with 'Timed out waiting {ms}ms for {verb} "
                "operation to complete', or with 'Connection closed by peer' where a peer's timer fired first "
                "and its process exited")  # fmt: skip
        if kind == "mismatch":
            text += "; TORCH_DISTRIBUTED_DEBUG=DETAIL would report the mismatch at the call instead"
        return text

    def _fail_now(self, op: Op, kind: str, message: str) -> None:
        self._fail_later(op, 0.0, kind, message)

    def _fail_later(self, op: Op, delay: float, kind: str, message: str) -> None:
        def fire(_event, op=op) -> None:
            if not op.event.triggered:
                op.event.fail(WorkerError(kind, message))

        timer = self.kernel.timeout(delay)
        timer.callbacks.append(fire)

    def _abort_later(self, op: Op, delay: float, message: str) -> None:
        def fire(_event, op=op) -> None:
            if not op.event.triggered:
                op.event.fail(WorkerError("SIGABRT", message, exit_code=-6))

        self.kernel.timeout(delay).callbacks.append(fire)

    # -- executing ------------------------------------------------------------------------------------

    def _same_node(self, ranks: Sequence[int]) -> Callable[[int, int], bool]:
        nodes = [self.node_of.get(r) for r in ranks]
        return lambda a, b: nodes[a] == nodes[b]

    def _deliver(self, send: Op, recv: Op) -> None:
        start = max(send.submitted, recv.submitted, self.kernel.now)
        nbytes = send.tensors[0].nbytes
        same = self.node_of.get(send.rank) == self.node_of.get(recv.rank)
        duration = self.cost.for_collective(send.kind, "direct", nbytes).transfer_time(nbytes, same)
        try:
            if recv.tensors[0].shape != send.tensors[0].shape and recv.tensors[0].numel() != send.tensors[0].numel():
                raise RuntimeError(
                    f"size mismatch: rank {recv.rank} receives {recv.tensors[0].numel()} elements but rank "
                    f"{send.rank} sends {send.tensors[0].numel()}"
                )
            recv.tensors[0].copy_(send.tensors[0].reshape(recv.tensors[0].shape))
        except RuntimeError as exc:
            for op in (send, recv):
                self._resolve(op)
                self._fail_now(op, "RuntimeError", str(exc))
            return
        recv.source = send.rank
        self.record("p2p", self.node_of.get(send.rank), send.rank, src=send.rank, dst=recv.rank, tag=send.tag,
                        bytes=nbytes, start=round(start, 9), end=round(start + duration, 9))  # fmt: skip
        for op in (send, recv):
            self._complete(op, start + duration)

    def _resolve(self, op: Op) -> None:
        """Every participant has called ``op``: it will complete (or fail) on its own."""
        op.matched = True
        if self.unmatched.get(op.rank) is op:
            del self.unmatched[op.rank]

    def _complete(self, op: Op, at: float) -> None:
        self._resolve(op)

        def done(_event, op=op) -> None:
            if not op.event.triggered:
                op.event.succeed(op)

        # Ranks that finish together resume in an order drawn from the seed.
        timer = self.kernel.timeout(max(0.0, at - self.kernel.now), shuffle=True)
        timer.callbacks.append(done)

    def _execute(self, ops: list[Op]) -> None:
        first = ops[0]
        start = max(op.submitted for op in ops)
        group_ranks = [op.rank for op in ops]
        n = len(ops)
        try:
            algorithm, steps, nbytes = self._run(first.kind, ops)
        except (RuntimeError, TypeError, ValueError) as exc:  # torch refused the data (e.g. AVG on integers)
            for op in ops:
                self._resolve(op)  # settled (by an error), not waiting for anyone
                self._fail_now(op, type(exc).__name__, str(exc))
            return
        base = SCHEDULE_KIND.get(first.kind, first.kind)
        inter = len({self.node_of.get(r) for r in group_ranks}) > 1
        cost = self.cost.for_collective(base, algorithm, nbytes)  # a measured profile prices each collective
        timed: list[tuple[int, Any, float, float]] = []  # (index, step, start, end)
        t = start
        if steps is not None:
            same_node = self._same_node(group_ranks)
            for index, step in enumerate(steps):
                duration = cost.step_time(step, same_node)
                timed.append((index, step, t, t + duration))
                t += duration
            counted = len(steps)
        elif algorithm == "direct":
            t += cost.transfer_time(nbytes, not inter)
            counted = 1
        else:  # a group too large to list its steps: the closed forms
            t += cost.estimate(base, algorithm, n, nbytes, inter)
            counted = step_count(base, algorithm, n)
        duration = t - start
        algbw = nbytes / duration if duration > 0 else 0.0
        self.record("collective", None, None, op=first.kind, seq=first.seq, group=_group_name(first),
                        ranks=group_ranks if n <= 4096 else [group_ranks[0], group_ranks[-1]], algorithm=algorithm,
                        bytes=nbytes, start=round(start, 9), end=round(t, 9), steps=counted,
                        algbw=algbw, busbw=algbw * bus_factor(base, n))  # fmt: skip
        if self.trace_steps and n <= MAX_TRACED_STEPS_GROUP:
            for index, step, begin, end in timed:
                self.record("collective_step", None, None, op=first.kind, seq=first.seq, group=_group_name(first),
                                algorithm=algorithm, step=index, steps=len(timed), phase=step.phase,
                                reduce=step.reduce,
                                transfers=[{"src": group_ranks[x.src], "dst": group_ranks[x.dst], "chunk": x.chunk,
                                            "bytes": x.nbytes} for x in step.transfers],
                                start=round(begin, 9), end=round(end, 9))  # fmt: skip
        for op in ops:
            self._complete(op, t)

    def _algorithm_for(self, kind: str, ranks: Sequence[int], nbytes: int, inter: bool) -> str:
        """The requested algorithm, or the one the cost model says is fastest on these ranks' links."""
        if (kind, self.algorithm) in ALGORITHMS:
            return self.algorithm
        n = len(ranks)
        if n > MAX_EXECUTED_GROUP:  # too many steps to time one by one: the closed forms decide
            return choose_algorithm(kind, n, nbytes, self.cost, inter)
        key = (kind, nbytes, tuple(self.node_of.get(r) for r in ranks))
        if key not in self._choices:
            same_node = self._same_node(ranks)
            known = [name for (op, name) in sorted(ALGORITHMS) if op == kind]
            allowed = [name for name in known if name in (self.cost.candidates(kind) or known)] or known
            timed = {
                name: sum(self.cost.for_collective(kind, name, nbytes).step_time(step, same_node)
                          for step in schedule(kind, name, n, nbytes))
                for name in allowed
            }  # fmt: skip
            self._choices[key] = min(timed, key=lambda name: (timed[name], name))
        return self._choices[key]

    def _run(self, kind: str, ops: list[Op]):
        """Compute every rank's result in place; return (algorithm, steps or None, bytes)."""
        n = len(ops)
        inter = len({self.node_of.get(op.rank) for op in ops}) > 1
        if kind in ("all_reduce", "all_reduce_coalesced"):
            return self._all_reduce(ops, inter)
        if kind == "broadcast":
            root = ops[0].root
            nbytes = ops[0].tensors[0].nbytes
            steps = schedule("broadcast", "tree", n, nbytes, root) if n <= MAX_EXECUTED_GROUP else None
            source = ops[root].tensors[0]
            for op in ops:
                if op.group_rank != root:
                    op.tensors[0].copy_(source)
            return "tree", steps, nbytes
        if kind == "reduce":
            root = ops[0].root
            combine = Combine(ops[0].reduce_op, n)
            flats = [combine.prepare(op.tensors[0].detach().reshape(-1).clone()) for op in ops]
            steps = schedule("reduce", "tree", n, ops[0].tensors[0].nbytes, root) if n <= MAX_EXECUTED_GROUP else None
            if steps is not None:
                run_schedule(steps, flats, combine)
            else:
                reduce_in_order(flats, combine, root)
            combine.finish(flats[root])
            ops[root].tensors[0].copy_(flats[root].reshape(ops[root].tensors[0].shape))
            return "tree", steps, ops[0].tensors[0].nbytes
        if kind == "all_gather":
            gathered = [op.tensors[0] for op in ops]
            for op in ops:
                for out, data in zip(op.outputs, gathered, strict=True):
                    out.copy_(data)
            nbytes = sum(t.nbytes for t in gathered)
            steps = schedule("all_gather", "ring", n, nbytes) if n <= MAX_EXECUTED_GROUP else None
            return "ring", steps, nbytes
        if kind == "all_gather_into_tensor":
            data = torch.cat([op.tensors[0].reshape(-1) for op in ops])
            for op in ops:
                op.outputs[0].copy_(data.reshape(op.outputs[0].shape))
            nbytes = data.nbytes
            return "ring", schedule("all_gather", "ring", n, nbytes) if n <= MAX_EXECUTED_GROUP else None, nbytes
        if kind in ("reduce_scatter", "reduce_scatter_tensor"):
            combine = Combine(ops[0].reduce_op, n)
            if kind == "reduce_scatter":
                pieces = [[combine.prepare(t.detach().reshape(-1)) for t in op.extra["inputs"]] for op in ops]
            else:
                pieces = [list(torch.chunk(combine.prepare(op.extra["input"].detach().reshape(-1)), n)) for op in ops]
            for i, op in enumerate(ops):
                acc = pieces[0][i].clone()
                for j in range(1, n):
                    combine(acc, pieces[j][i])
                combine.finish(acc)
                op.tensors[0].copy_(acc.reshape(op.tensors[0].shape))
            nbytes = sum(p.nbytes for p in pieces[0])
            return "ring", schedule("reduce_scatter", "ring", n, nbytes) if n <= MAX_EXECUTED_GROUP else None, nbytes
        if kind == "all_to_all":
            for i, op in enumerate(ops):
                for j, out in enumerate(op.outputs):
                    out.copy_(ops[j].extra["inputs"][i])
            nbytes = sum(t.nbytes for t in ops[0].extra["inputs"])
            return "direct", None, nbytes
        if kind == "all_to_all_single":
            splits_in = [splits(op.extra["input"], op.extra["input_splits"], n) for op in ops]
            for i, op in enumerate(ops):
                parts = [splits_in[j][i] for j in range(n)]
                op.outputs[0].copy_(torch.cat([p.reshape(-1) for p in parts]).reshape(op.outputs[0].shape))
            return "direct", None, ops[0].extra["input"].nbytes
        if kind == "gather":
            root = ops[0].root
            for out, op in zip(ops[root].outputs, ops, strict=True):
                out.copy_(op.tensors[0])
            return "direct", None, sum(op.tensors[0].nbytes for op in ops)
        if kind == "scatter":
            root = ops[0].root
            for op, data in zip(ops, ops[root].extra["inputs"], strict=True):
                op.tensors[0].copy_(data)
            return "direct", None, sum(t.nbytes for t in ops[root].extra["inputs"])
        if kind == "barrier":
            return "tree", schedule("all_reduce", "tree", n, 4) if n <= MAX_EXECUTED_GROUP else None, 4
        raise RuntimeError(f"simdist does not simulate {kind} yet")  # pragma: no cover

    def _all_reduce(self, ops: list[Op], inter: bool):
        """Reduce in place. By default the data takes the memory-bound path (one accumulation, one
        copy back per rank) while the schedule only times and traces the steps; with ``exact_steps``
        the chunks really travel the schedule, so floating-point sums happen in the algorithm's order."""
        n = len(ops)
        nbytes = sum(t.nbytes for t in ops[0].tensors)  # coalesced: all the tensors travel together
        algorithm = self._algorithm_for("all_reduce", [op.rank for op in ops], nbytes, inter)
        combine = Combine(ops[0].reduce_op, n)
        steps = schedule("all_reduce", algorithm, n, nbytes) if n <= MAX_EXECUTED_GROUP else None
        for index in range(len(ops[0].tensors)):  # coalesced all-reduces reduce each tensor alike
            tensors = [op.tensors[index] for op in ops]
            flats = [flat_view(t) for t in tensors]
            if combine.factor is not None:
                for flat in flats:
                    flat.mul_(combine.factor)
            if self.exact_steps and steps is not None:
                run_schedule(steps, flats, combine)
                for flat in flats:
                    combine.finish(flat)
            elif self.backend == "gloo" and n > 2 and flats[0].numel():  # two ranks: any order gives the same bits
                total = gloo_ring_all_reduce(flats, combine)
                combine.finish(total)
                for flat in flats:
                    flat.copy_(total)
            else:
                total = flats[0].clone()
                for flat in flats[1:]:
                    combine(total, flat)
                combine.finish(total)
                for flat in flats:
                    flat.copy_(total)
            for flat, t in zip(flats, tensors, strict=True):
                if flat.data_ptr() != t.data_ptr() or not t.is_contiguous():
                    t.copy_(flat.reshape(t.shape))
        return algorithm, steps, nbytes


def _ranks_phrase(ranks: list[int]) -> str:
    return f"rank {ranks[0]} waits" if len(ranks) == 1 else f"ranks {', '.join(map(str, ranks))} wait"


def _mismatch_text(op: Op, peer: Op) -> str:
    """torch's ProcessGroupWrapper error, as ``op``'s rank raises it (DETAIL debug mode)."""
    return (
        f"Detected mismatch between collectives on ranks. Rank {op.rank} is running collective: "
        f"{fingerprint(op)}, but Rank {peer.rank} is running collective: {fingerprint(peer)}.{differences(op, peer)}"
    )


def _gloo_verb(op: Op) -> str:
    """What a gloo rank waits for in ``op``: the root of a broadcast sends, everyone else receives."""
    return "send" if op.kind == "send" or (op.kind == "broadcast" and op.root == op.group_rank) else "recv"


def _group_name(op: Op) -> str:
    return "WORLD" if op.group[1] == "WORLD" else f"group{op.group[0]}:{list(op.group[1])}"


def _str_keys(mapping: dict[int, str]) -> dict[str, str]:
    return {str(k): v for k, v in mapping.items()}

