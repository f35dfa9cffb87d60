"""A user's script (``train.py args…`` or ``-m package.module args…``), run as each rank's ``__main__``.

The script runs unmodified, as torchrun's worker would run it: as ``__main__``, with its
own module globals, ``sys.argv`` and ``__file__``. Its ``init_process_group`` is torch's
own (argument checks, ``env://``/``tcp://``/``file://`` parsing, the environment it reads,
its error texts); only two things underneath are replaced while a simulation runs:

- the store a rendezvous would connect to is an in-memory one (no socket is opened);
- whatever backend the script names (``gloo``, ``nccl``, ``cpu:gloo,cuda:nccl``, none),
  the process group is simdist's, imitating that backend, and joining the default group
  is the moment the rank meets its peers on the virtual clock.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ConfigError

__all__ = ["Script", "load_script"]


@dataclass(frozen=True, slots=True)
class Script:
    """What torchrun would run: a file or a module, with its arguments, compiled once for every rank."""

    target: str  # the path as given, or the module name
    args: tuple[str, ...]
    is_module: bool
    filename: str  # the file the code came from (argv[0] and __file__)
    code: types.CodeType
    spec: importlib.machinery.ModuleSpec | None = None  # -m only

    @property
    def display(self) -> str:
        return f"-m {self.target}" if self.is_module else self.target

    def argv(self) -> list[str]:
        return [self.filename, *self.args]

    def new_main(self) -> types.ModuleType:
        """A fresh ``__main__`` module for one rank (each rank has its own globals)."""
        module = types.ModuleType("__main__")
        module.__dict__.update(__file__=self.filename, __builtins__=builtins, __cached__=None,
                               __loader__=None if self.spec is None else self.spec.loader, __spec__=self.spec)  # fmt: skip
        if self.spec is not None:
            module.__dict__["__package__"] = self.spec.parent
        return module

    def run(self, main: types.ModuleType) -> None:
        exec(self.code, main.__dict__)  # noqa: S102 - running the user's own program is the point


def load_script(target: str, args: tuple[str, ...] = (), *, is_module: bool = False, no_python: bool = False) -> Script:
    """Find and compile the script (or module) once; a one-line ConfigError when it cannot run."""
    if no_python:
        raise ConfigError(f"--no-python runs {target!r} as a program, not Python: simdist can run only Python "
                          "scripts on its virtual cluster (drop --no-python, or use --real)")  # fmt: skip
    if is_module:
        return _load_module(target, args)
    path = Path(target)
    if not path.exists():
        raise ConfigError(f"{target}: no such file (simdist simulate runs the script on every rank; without one, "
                          "each worker just works for --work seconds)")  # fmt: skip
    if path.is_dir():
        raise ConfigError(f"{target} is a folder, not a Python script")
    if path.suffix not in (".py", ""):
        raise ConfigError(f"{target} is not a Python script (.py): simdist runs Python entry points only")
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {target}: {exc.strerror or exc}") from None
    if len(source) > 64 * 1024 * 1024:
        raise ConfigError(f"{target} is {len(source)} bytes: too large to be a training script")
    filename = str(path.resolve()) if not path.is_absolute() else str(path)
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise ConfigError(f"{target} does not compile{where}: {exc.msg if isinstance(exc, SyntaxError) else exc}") from None
    return Script(target, tuple(args), False, filename, code)


def _load_module(name: str, args: tuple[str, ...]) -> Script:
    if not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(f"-m {name!r} is not a module name")
    sys.path.insert(0, os.getcwd())  # python -m looks in the working directory first, as the workers will
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"-m {name}: {exc}") from None
    finally:
        sys.path.remove(os.getcwd())
    if spec is None:
        raise ConfigError(f"-m {name}: no module named {name!r}")
    if spec.submodule_search_locations is not None:  # a package: run its __main__, as python -m does
        return _load_module(f"{name}.__main__", args)
    code = spec.loader.get_code(name) if spec.loader is not None and hasattr(spec.loader, "get_code") else None
    if code is None:
        raise ConfigError(f"-m {name}: not a Python module simdist can run")
    return Script(name, tuple(args), True, spec.origin or name, code, spec)


@contextlib.contextmanager
def script_paths(script: Script) -> Iterator[None]:
    """``sys.path[0]`` as python sets it: the script's folder, or the working directory for ``-m``."""
    first = os.getcwd() if script.is_module else str(Path(script.filename).parent)
    sys.path.insert(0, first)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(first)


@contextlib.contextmanager
def simulated_init(join: Callable[[int, int, str], Any], make_store: Callable[[], Any]) -> Iterator[None]:
    """Let torch's own ``init_process_group`` run, over simdist's store and process group.

    ``join(rank, world_size, backend, timeout)`` is called on the rank's thread when it creates
    its default group: it blocks (on the virtual clock) until the world has formed.
    """
    import torch.distributed.distributed_c10d as c10d

    # the module, not the function torch.distributed exports under the same name
    rendezvous = importlib.import_module("torch.distributed.rendezvous")

    from ..collectives._torch_world import BACKEND_NAME, IdentityRanks

    real_helper, real_c10d_store, real_file_store = (
        c10d._new_process_group_helper, rendezvous._create_c10d_store, rendezvous.FileStore
    )  # fmt: skip

    def create_c10d_store(hostname, port, rank, world_size, timeout, use_libuv=True):
        if not 0 <= port < 2**16:  # torch's own check, kept
            raise ValueError(f"port must have value from 0 to 65535 but was {port}.")
        return make_store()

    def file_store(path, world_size=-1):
        return make_store()

    def new_group_helper(group_size, group_rank, global_ranks_in_group, backend, store, group_name, *args, **kwargs):
        default = c10d._world.default_pg is None
        requested = str(backend)
        if default:
            timeout = kwargs.get("timeout")
            join(group_rank, group_size, requested, None if timeout is None else timeout.total_seconds())
        pg, prefix_store = real_helper(group_size, group_rank, global_ranks_in_group, BACKEND_NAME, store,
                                       group_name, *args, **kwargs)  # fmt: skip
        # torch answers get_backend() from here: report what the script asked for (gloo, nccl, …)
        c10d._world.pg_map[pg] = (_backend_name(requested), prefix_store)
        if default:
            c10d._world.pg_group_ranks[pg] = IdentityRanks(group_size)
        return pg, prefix_store

    c10d._new_process_group_helper = new_group_helper
    rendezvous._create_c10d_store = create_c10d_store
    rendezvous.FileStore = file_store
    try:
        yield
    finally:
        c10d._new_process_group_helper = real_helper
        rendezvous._create_c10d_store = real_c10d_store
        rendezvous.FileStore = real_file_store


def _backend_name(requested: str) -> str:
    """``gloo`` / ``nccl`` as torch reports them; a device map keeps torch's own spelling."""
    name = requested.lower()
    return name if name in ("gloo", "nccl") else requested


def imitated_backend(requested: str, default: str) -> str:
    """Which backend's behaviour to imitate for a script's ``init_process_group(backend=…)``."""
    name = requested.lower()
    if name in ("gloo", "nccl"):
        return name
    if "cpu:gloo" in name.replace(" ", "") and "nccl" not in name:
        return "gloo"
    return default
