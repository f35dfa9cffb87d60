"""What torchrun starts to run a user's script for real: ``python -m simdist.real._script_worker SCRIPT ARGS…``.

It runs the script unmodified, as python would (as ``__main__``, with ``sys.argv``,
``__file__`` and ``sys.path[0]`` set as for ``python SCRIPT``; ``-m`` for a module),
and on the side records what real mode compares with the prediction: the worker's
torchrun variables, host and pid, everything the script printed (the console still
sees it), how the script ended, and the time of each blocking collective it called
(``simdist.real._timing``; SIMDIST_TIME_COLLECTIVES=0 turns that off). The exit
status is the script's own: ``sys.exit(n)`` exits ``n``, an uncaught exception prints
its traceback and exits 1.

SIMDIST_OUT names the folder for the records (one file per rank and attempt).
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import socket
import sys

from simdist.documents._io import write_atomic


class _Tee:
    """A text stream that writes to the real one and keeps a copy."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.kept: list[str] = []

    def write(self, text: str) -> int:
        self.kept.append(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str]) -> int:
    from simdist.real._report import relevant_env

    module = bool(argv) and argv[0] == "-m"
    target, args = (argv[1], argv[2:]) if module else (argv[0], argv[1:])
    rank, attempt = int(os.environ["RANK"]), int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    record = {
        "rank": rank, "local_rank": int(os.environ["LOCAL_RANK"]), "group_rank": int(os.environ["GROUP_RANK"]),
        "attempt": attempt, "env": relevant_env(os.environ), "hostname": socket.gethostname(), "pid": os.getpid(),
        "exit_code": None, "error": None,
    }  # fmt: skip
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    timing = _time_collectives()
    sys.stdout, sys.stderr = out, err
    folder = os.environ.get("SIMDIST_OUT")

    def save(code: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        record.update(exit_code=code, stdout="".join(out.kept), stderr="".join(err.kept))
        if timing is not None:  # the collectives timed so far (all of them once the script has ended)
            record.update(collectives=list(timing.records), collectives_dropped=timing.dropped)
        if folder:
            write_atomic(os.path.join(folder, f"rank{rank}-attempt{attempt}.json"), json.dumps(record))

    def stopped(signum, frame) -> None:  # torchrun stops the group: record, then die of the signal itself
        save(-signum)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, stopped)
    code = 0
    try:
        if module:
            sys.argv = [target, *args]
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.argv = [target, *args]
            sys.path[0] = os.path.dirname(os.path.abspath(target))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            print(exc.code, file=sys.stderr)
    except BaseException as exc:  # what python does with an uncaught exception: its excepthook, exit 1
        trimmed = _user_frames(exc.__traceback__)
        sys.excepthook(type(exc), exc.with_traceback(trimmed), trimmed)  # torch's prints "[rankN]: …"
        record["error"] = {"type": type(exc).__name__, "message": " ".join(str(exc).split())}
        code = 1
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if timing is not None:
        timing.uninstall()
    save(code)
    return code


def _time_collectives():
    """Time the script's blocking ``torch.distributed`` collectives; None when turned off or unavailable."""
    if os.environ.get("SIMDIST_TIME_COLLECTIVES", "1") == "0":
        return None
    try:
        import torch
        import torch.distributed as dist

        from simdist.real._timing import install

        return install(dist, torch, None)  # the script chooses its backend
    except Exception:  # noqa: BLE001 - timing is a report: the script runs without it
        return None


def _user_frames(tb):
    """The traceback python would print for the script alone: runpy's frames and ours left out
    (the wrapper that times a collective included)."""
    from simdist.program._tracebacks import without_frames

    timing = os.path.join("real", "_timing.py")
    return without_frames(tb, lambda name: name.endswith((os.sep + "runpy.py", "_script_worker.py", timing)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
