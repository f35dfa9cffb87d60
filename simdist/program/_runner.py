"""Running a program on every simulated worker: a rank thread each, driven by the kernel.

:class:`ProgramRunner` is the simulator's ``WorkerProgram``. For each worker it starts a
:class:`RankThread` with the worker's own process state (:class:`RankProcess`), then
serves what the rank asks for, one request at a time:

- ``wait``: block on a kernel event (a collective, ``time.sleep``) and resume after it;
- ``init``: the rank's ``init_process_group`` — join the world on the virtual clock;
- ``done`` / ``raised`` / ``runaway``: the rank ended; its worker exits the way torch's
  would (exit code, error text, traceback on the rank's stderr).

User code ends its own rank, never simdist: ``sys.exit(n)``, ``os._exit(n)``, an
exception, a signal to itself, a loop that never yields — each becomes that worker's
exit, which torchrun's restart logic and the verdict then follow.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import types
import uuid
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError, ProcessAborted, WorkerError
from ._rank import THREADED_RANKS, RankGreenlet, RankKilled, RankThread, Runaway, Stopped, Watchdog
from ._sandbox import RankExit, RankProcess, Sandbox
from ._scenario import Scenario, ScenarioOptions, error_line, plain_result
from ._script import Script, imitated_backend, script_paths, simulated_init

if TYPE_CHECKING:
    from ..sim._agent import Agent
    from ..sim._machine import WorkerRun
    from ..sim._rendezvous import RoundResult
    from ..sim._simulation import Simulation
    from ..sim._world import World

__all__ = ["ProgramRunner"]

DEFAULT_WALL_TIMEOUT = 60.0  # real seconds a rank may run without yielding to the kernel


class ProgramRunner:
    """Everything one simulation needs to run a program: torch set up once, one thread per rank."""

    def __init__(self, sim: Simulation, program: Scenario | Script, options: ScenarioOptions, *,
                 wall_timeout: float = DEFAULT_WALL_TIMEOUT) -> None:  # fmt: skip
        import torch
        import torch.distributed as dist

        from ..collectives import _torch_world
        from ..collectives._functional import functional_collectives

        self.sim = sim
        self.program = program
        self.options = options
        self.wall_timeout = wall_timeout
        self.dist = dist
        self.engines: dict[tuple, Any] = {}  # World.key -> CollectiveEngine
        self.stores: dict[tuple, Any] = {}  # World.key -> the in-memory store its ranks share
        self.threads: list[RankThread | RankGreenlet] = []
        # A thread per rank while the operating system allows it comfortably; beyond, scenarios' ranks
        # are greenlets (enough for plain torch.distributed code), and a script is refused.
        ranks = sum(sim.spec.nprocs)
        self.use_threads = ranks <= THREADED_RANKS
        if not self.use_threads and isinstance(program, Script):
            raise ConfigError(f"{ranks} ranks: simdist runs a script with a thread per rank, at most {THREADED_RANKS} "
                              "(the operating system's thread limits); simulate fewer ranks, or use a --scenario")
        self.watchdog: Watchdog | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="simdist-ranks-")
        self._stack = contextlib.ExitStack()
        try:
            self._stack.enter_context(_torch_world.install())
            _torch_world.set_backend_factory(self._create_pg)
            self._stack.enter_context(functional_collectives())
            # autograd runs backward on the rank's own thread (as torch's threaded test group does)
            self._stack.enter_context(torch.autograd.set_multithreading_enabled(False))
            self.sandbox = self._stack.enter_context(Sandbox())
            if isinstance(program, Script):
                self._stack.enter_context(script_paths(program))
                self._stack.enter_context(simulated_init(self._join_from_rank, self._store_from_rank))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for thread in self.threads:
            with contextlib.suppress(Exception):
                thread.kill(self.wall_timeout)
        if self.watchdog is not None:
            self.watchdog.close()
        self._stack.close()
        self._folder.cleanup()

    # -- services for rank threads (called on the rank's own thread) ------------------------------

    def _create_pg(self, store, rank, size, timeout):
        from ..collectives._process_group import SimProcessGroup
        from ._rank import current_rank

        return SimProcessGroup(current_rank().context.runtime, rank, size)

    def _join_from_rank(self, rank: int, world_size: int, backend: str, timeout: float | None) -> None:
        from ._rank import current_rank

        thread = current_rank()
        assert thread is not None, "init_process_group is simulated on rank threads only"
        reply = thread.yield_to_kernel(("init", rank, world_size, backend, timeout))
        if isinstance(reply, BaseException):
            raise reply

    def _store_from_rank(self):
        from ._rank import current_rank

        thread = current_rank()
        assert thread is not None
        return thread.context.store

    # -- the worker program (kernel side) ----------------------------------------------------------

    def engine_for(self, world: World, backend: str):
        """The collectives engine of ``world`` (one per world, made when its first rank joins)."""
        engine = self.engines.get(world.key)
        if engine is None:
            from ..collectives._engine import CollectiveEngine

            o, sim = self.options, self.sim
            detail = sim.spec.env.get("TORCH_DISTRIBUTED_DEBUG") == "DETAIL"
            engine = CollectiveEngine(sim.kernel, sim.record, world, backend, o.algorithm, o.cost, o.pg_timeout,
                                      o.trace_steps, o.exact_steps, detail=detail)  # fmt: skip
            self.engines[world.key] = engine
        return engine

    def __call__(self, sim: Simulation, agent: Agent, worker: WorkerRun, round_: RoundResult) -> Generator:
        from ..collectives import _torch_world
        from ..collectives._process_group import RankRuntime

        kernel = sim.kernel
        world = sim.world_of(agent, worker, round_)
        store = self.stores.setdefault(world.key, self.dist.HashStore())
        process = RankProcess(worker.rank, worker.local_rank, self._environment(worker), self._argv(), store=store)
        thread: RankThread | RankGreenlet | None = None

        def block(event) -> None:
            thread.yield_to_kernel(("wait", event))

        process.sleep = lambda seconds: block(kernel.timeout(seconds))
        process.now = lambda: kernel.now
        if isinstance(self.program, Script):
            script = self.program
            process.main = script.new_main()

            def body() -> Any:
                _torch_world.new_rank_world(worker.rank)
                try:
                    script.run(process.main)
                except BaseException as exc:
                    if not ends_the_process_quietly(exc):  # python prints it, through the rank's own hook
                        trimmed = user_frames(exc.__traceback__)
                        sys.excepthook(type(exc), exc.with_traceback(trimmed), trimmed)
                    raise
                finally:
                    _torch_world.forget_rank_world()
                return None
        else:
            scenario = self.program
            timeout = timedelta(seconds=self.options.pg_timeout)

            def body() -> Any:
                _torch_world.new_rank_world(worker.rank)
                try:
                    _torch_world.init_rank(worker.rank, world.size, store, timeout)
                    return scenario.func(self.dist)
                finally:
                    _torch_world.forget_rank_world()

        switch_in, switch_out = (lambda _: self.sandbox.switch_in(process)), (lambda _: self.sandbox.switch_out(process))
        if self.use_threads:
            thread = RankThread(body, f"rank{worker.rank}", context=process, on_switch_in=switch_in,
                                on_switch_out=switch_out)  # fmt: skip
        else:
            if self.watchdog is None:
                self.watchdog = Watchdog()
            thread = RankGreenlet(body, f"rank{worker.rank}", context=process, on_switch_in=switch_in,
                                  on_switch_out=switch_out, watchdog=self.watchdog)  # fmt: skip
        self.threads.append(thread)
        engine = None
        if isinstance(self.program, Scenario):  # a scenario starts after init_process_group, as torchrun's workers
            yield from sim.join_world(agent, worker, round_)
            engine = self.engine_for(world, self.options.backend)
            process.runtime = RankRuntime(engine, worker.rank, self.options.backend, block, not self.use_threads)
            engine.rank_started(worker.rank, agent.machine.index)
        reply: Any = None
        try:
            while True:
                request = thread.resume(reply, self.wall_timeout)
                kind = request[0]
                if kind == "wait":
                    try:
                        yield request[1]
                    except WorkerError:
                        pass  # the rank sees the failure on its own stack, through the event
                    reply = None
                elif kind == "init":
                    _, rank, size, requested, timeout = request
                    refusal = _refused_init(worker, world, rank, size)
                    if refusal is not None:
                        reply = refusal
                        continue
                    world = yield from sim.join_world(agent, worker, round_, asked=size, timeout=timeout)
                    backend = imitated_backend(requested, self.options.backend)
                    engine = self.engine_for(world, backend)
                    process.runtime = RankRuntime(engine, worker.rank, backend, block, not self.use_threads)
                    engine.rank_started(worker.rank, agent.machine.index)
                    reply = None
                else:
                    result = self._ended(request, worker, engine, process)
                    break
        finally:
            worker.stdout, worker.stderr = process.text("stdout"), process.text("stderr")
            _read_error_file(worker, process, self._folder.name)
            if not thread.finished:  # the worker was killed (its generator closed or interrupted)
                thread.kill(self.wall_timeout)
        return result

    def _ended(self, request: tuple, worker: WorkerRun, engine: Any, process: RankProcess) -> Any:
        """The rank's program ended: its result, or the WorkerError that ends its worker."""
        kind = request[0]
        if kind == "done":
            if engine is not None:
                engine.rank_finished(worker.rank)
            return plain_result(request[1])
        if kind == "runaway":
            runaway: Runaway = request[1] or Runaway(self.wall_timeout, "?")
            message = (f"rank {worker.rank} ran {runaway.seconds:g} s of wall-clock time without calling "
                       f"torch.distributed or time (a busy loop?), at {runaway.where}; stopped by simdist "
                       "(--wall-timeout)")  # fmt: skip
            raise WorkerError("Runaway", message, exit_code=1)
        return self._raised(request[1], worker, engine, process)

    def _raised(self, exc: BaseException, worker: WorkerRun, engine: Any, process: RankProcess) -> Any:
        if isinstance(exc, SystemExit):
            code = exc.code
            if code is None or code == 0:
                if engine is not None:
                    engine.rank_finished(worker.rank)
                return None
            if not isinstance(code, int):  # sys.exit("message"): printed, exit status 1
                process.stderr.append(f"{code}\n")
                raise WorkerError("SystemExit", str(code), exit_code=1)
            raise WorkerError("SystemExit", str(code), exit_code=code)
        if isinstance(exc, RankExit):
            raise WorkerError("Exit", f"{exc.how}({exc.code})", exit_code=exc.code)
        if isinstance(exc, ProcessAborted):
            raise WorkerError("SIGABRT", str(exc), exit_code=-6)
        if isinstance(exc, RankKilled):  # pragma: no cover - a killed rank is not resumed for a result
            raise WorkerError("SIGKILL", "", exit_code=-9)
        alternatives = tuple(engine.alternatives.get(worker.rank, ())) if engine is not None else ()
        raise WorkerError(type(exc).__name__, error_line(exc), alternatives=alternatives)

    # -- what each rank's process gets ----------------------------------------------------------------

    def _environment(self, worker: WorkerRun) -> dict[str, str]:
        """torchrun's worker environment: the launching shell's, ``--env``, and torchrun's variables.

        A script needs every variable to hold a value; those torchrun only knows at run time
        (the trace keeps them as unknown) get stand-ins: a master port, a run id, an error file.
        """
        env = dict(os.environ)  # the real environment: outside rank threads os.environ is unchanged
        env.update(self.sim.spec.env)
        script = isinstance(self.program, Script)
        for key, value in worker.env.items():
            if value is not None:
                env[key] = value
            elif script and key in RUN_TIME_STAND_INS:
                env[key] = RUN_TIME_STAND_INS[key](self, worker)
        return env

    def error_file(self, worker: WorkerRun) -> str:
        """A fresh error file path per worker, in a folder that exists (torchrun makes it so)."""
        folder = os.path.join(self._folder.name, f"attempt_{worker.attempt}", str(worker.rank))
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, "error.json")

    def _argv(self) -> list[str]:
        if isinstance(self.program, Script):
            return self.program.argv()
        return list(self._saved_argv())

    @staticmethod
    def _saved_argv() -> list[str]:
        import sys

        return list(sys.argv)


SHOWN_ERROR_FOLDER = "/tmp/torchelastic_simulated"  # where the trace says error files were (stable across runs)

RUN_TIME_STAND_INS = {
    "MASTER_ADDR": lambda runner, worker: "localhost",  # torchrun: the rank-0 agent's host name
    "MASTER_PORT": lambda runner, worker: "29500",  # torchrun: the store's ephemeral port
    "TORCHELASTIC_RUN_ID": lambda runner, worker: str(uuid.UUID(int=runner.sim.options.seed, version=4)),
    # torchrun gives every worker a fresh error file; @record writes the failure there
    "TORCHELASTIC_ERROR_FILE": lambda runner, worker: runner.error_file(worker),
    "TORCHELASTIC_TIMER_FILE": lambda runner, worker: os.path.join(runner._folder.name, "timer"),
    "CUDA_VISIBLE_DEVICES": lambda runner, worker: "",
}  # fmt: skip


def _read_error_file(worker: WorkerRun, process: RankProcess, folder: str) -> None:
    """What torch's ``@record`` wrote to TORCHELASTIC_ERROR_FILE: torchrun shows its traceback."""
    import json

    path = process.env.get("TORCHELASTIC_ERROR_FILE")
    if not path or not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
        message = data["message"]
        text = message["extraInfo"]["py_callstack"] if isinstance(message, dict) else str(message)
    except (OSError, ValueError, KeyError, TypeError):
        return
    worker.error_file = path.replace(folder, SHOWN_ERROR_FOLDER, 1)  # a temp folder's name would vary by run
    worker.error_traceback = _without_simdist_frames(text)


def _without_simdist_frames(text: str) -> str:
    """A formatted traceback without simdist's own frames (each is a File line and its code lines)."""
    kept, skipping = [], False
    for line in text.splitlines():
        if line.startswith('  File "'):
            skipping = _PACKAGE in line
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def ends_the_process_quietly(exc: BaseException) -> bool:
    """What ends a rank without a traceback: an exit, a kill, an abort, a stop for running away."""
    return isinstance(exc, (SystemExit, RankExit, RankKilled, Stopped, ProcessAborted))


def user_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback a real worker would show: the same frames, simdist's own left out."""
    frames = []
    while tb is not None:
        if _PACKAGE not in tb.tb_frame.f_code.co_filename:
            frames.append(tb)
        tb = tb.tb_next
    chain = None
    for frame in reversed(frames):
        chain = types.TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return chain


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _refused_init(worker: WorkerRun, world: World, rank: int, size: int) -> BaseException | None:
    """What torch raises at once when a script's init_process_group disagrees with torchrun.

    A world size larger than torchrun's is not refused: the ranks wait for peers that never
    come and fail at the timeout (``World.init``); a smaller one forms a smaller group, and a
    rank outside it fails in gloo's context, as real gloo does.
    """
    if rank >= size:
        return RuntimeError(f"[enforce fail at gloo/context.cc:23] rank < size. {rank} vs {size}")
    if rank != worker.rank:
        return RuntimeError(
            f"simdist: init_process_group(rank={rank}) but torchrun gave this worker RANK={worker.rank}: two "
            "workers would claim one rank; simdist does not model what gloo then does"
        )
    return None
