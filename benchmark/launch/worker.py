"""One run in one process: ``python -m benchmark.launch.worker --run-dir DIR --runs-root ROOT [--no-wait] [-- CMD...]``.

The worker is what every executor starts (a local subprocess, a Slurm job). It

1. takes the run's worker lock (``<run>/.worker.lock``, ``flock``) and holds it while the trainer runs (the
   trainer holds ``<run>/.lock`` itself), so a run is never trained twice at once, whoever launched it
   (``--no-wait``: exit 75 at once when another process holds either lock);
2. returns at once when the record already says ``done`` (a relaunch or a duplicate job costs nothing);
3. runs the trainer (default ``python -m benchmark.run.train --run-dir DIR --runs-root ROOT``; under
   ``torch.distributed.run`` with ``train.processes`` processes when the config asks for several and the
   environment is not already a process group's, e.g. a Slurm task's) as a child whose output goes to
   ``<run>/worker.log``; on Linux the child dies with the worker (``PR_SET_PDEATHSIG``), so
   the lock and the training always end together; SIGTERM/SIGINT are passed on to the trainer;
4. marks the run failed with a one-line reason when the trainer died without recording one (a crash,
   an OOM kill), unless the worker itself was told to stop: then the run stays ``running`` and the next
   launch, finding its lock free, resumes it from ``checkpoints/last.pt``.

Each attempt appends a start and an end line to ``<run>/attempts.jsonl``. Exit status 0 iff the run is done.
Only the standard library and :mod:`benchmark.run.record` are imported here, so a worker starts in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmark.run.record import RunRecord, now_iso, one_line
from benchmark.run.torchrun import launch_command

LOCK_NAME = ".worker.lock"
TRAINER_LOCK_NAME = ".lock"  # taken by benchmark.run.train itself for the length of the training
ATTEMPTS_NAME = "attempts.jsonl"
OUTPUT_NAME = "worker.log"
EXIT_BUSY = 75  # --no-wait and another process holds the run's lock
EXIT_STOPPED = 128 + signal.SIGTERM  # the trainer's status when a SIGTERM stopped it (last.pt saved)
DEFAULT_TRAINER = (sys.executable, "-m", "benchmark.run.train")


class RunLock:
    """An exclusive ``flock`` on ``<run>/.worker.lock`` (released by the kernel when the process dies)."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, *, blocking: bool) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_locked(run_dir: str | os.PathLike[str]) -> bool:
    """Whether some live process holds the run's worker or trainer lock (i.e. is training it right now)."""
    return _held(Path(run_dir) / LOCK_NAME) or _held(Path(run_dir) / TRAINER_LOCK_NAME)


def _held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def run_one(
    run_dir: str | os.PathLike[str],
    runs_root: str | os.PathLike[str],
    *,
    trainer: Sequence[str] = DEFAULT_TRAINER,
    env: Mapping[str, str] | None = None,
    wait: bool = True,
    forward_signals: bool = True,
    ignore: Sequence[int] = (),
) -> int:
    """Train one run under its lock; 0 iff the run is done afterwards (``EXIT_BUSY`` if locked and not waiting).

    ``forward_signals=False`` leaves signal handling to the host process (submitit's checkpoint/requeue);
    the trainer ignores the signals in ``ignore`` (a cluster's warning signal, which reaches every process of
    the job: the host process stops the trainer itself, :func:`stop_trainer`)."""
    record = RunRecord(run_dir)
    lock = RunLock(run_dir)
    if not lock.acquire(blocking=False):
        if not wait:
            return EXIT_BUSY
        lock.acquire(blocking=True)
    while _held(record.dir / TRAINER_LOCK_NAME):  # a trainer started outside any worker
        if not wait:
            lock.release()
            return EXIT_BUSY
        time.sleep(1.0)
    try:
        if record.is_done():
            return 0
        _attempt_log(record.dir, "start")
        cmd = [*_launcher(trainer, record, env), "--run-dir", str(record.dir), "--runs-root", str(runs_root)]
        rc, stopped = _run_trainer(cmd, record.dir / OUTPUT_NAME, env, forward_signals, ignore)
        stopped = stopped or rc in (-signal.SIGTERM, EXIT_STOPPED)  # stopped by someone (scheduler, Slurm)
        status = record.read_status() or {}
        state = status.get("state")
        if not stopped and state != "done" and (state != "failed" or rc == 0):
            record.mark_failed(_failure_reason(rc, state, record.dir / OUTPUT_NAME))
        _attempt_log(record.dir, "end", rc=rc, state=record.state, stopped=stopped)
        return 0 if record.is_done() else 1
    finally:
        lock.release()


def run_rank(
    run_dir: str | os.PathLike[str],
    runs_root: str | os.PathLike[str],
    *,
    rank: int,
    trainer: Sequence[str] = DEFAULT_TRAINER,
    env: Mapping[str, str] | None = None,
    ignore: Sequence[int] = (),
) -> int:
    """Rank ``rank`` > 0 of a multi-process run whose ranks were started by the cluster (one Slurm task
    each): only the trainer, output to ``<run>/worker.rank<r>.log``; rank 0's :func:`run_one` holds the
    lock and keeps the record. Returns the trainer's exit status (0 at once when the run is done)."""
    record = RunRecord(run_dir)
    if record.is_done():
        return 0
    cmd = [*trainer, "--run-dir", str(record.dir), "--runs-root", str(runs_root)]
    rc, _ = _run_trainer(cmd, record.dir / f"worker.rank{rank}.log", env, False, ignore)
    return rc


def stop_trainer(run_dir: str | os.PathLike[str], timeout: float) -> bool:
    """SIGTERM the trainer this process runs for ``run_dir`` and wait up to ``timeout`` seconds for it to
    exit (it saves ``checkpoints/last.pt`` first); True when it has (or none runs). The trainer is not reaped,
    so this may run in a signal handler that interrupted the :func:`run_one` waiting for it."""
    proc = _TRAINERS.get(Path(run_dir))
    if proc is None:
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # reaped already
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _launcher(trainer: Sequence[str], record: RunRecord, env: Mapping[str, str] | None) -> list[str]:
    """``trainer``, or :func:`launch_command` for a run with ``train.processes > 1`` (``trainer`` must then be
    ``python -m MODULE``) unless ``WORLD_SIZE`` in ``env`` says the process group is launched already."""
    processes = int(((record.read_config() or {}).get("train") or {}).get("processes") or 1)
    launched = int((os.environ if env is None else env).get("WORLD_SIZE", "1")) > 1
    if processes <= 1 or launched:
        return list(trainer)
    if len(trainer) != 3 or trainer[1] != "-m":
        raise ValueError(f"train.processes={processes} needs a 'python -m MODULE' trainer, got {list(trainer)}")
    return launch_command(processes, trainer[2], python=trainer[0])


_TRAINERS: dict[Path, subprocess.Popen] = {}  # run dir -> the trainer this process runs for it (stop_trainer)


def _run_trainer(
    cmd: list[str], output: Path, env: Mapping[str, str] | None, forward: bool, ignore: Sequence[int] = ()
) -> tuple[int, bool]:
    """Run ``cmd`` to its end, passing SIGTERM/SIGINT on if ``forward``; the child ignores the ``ignore``
    signals. Returns (exit status, whether we were stopped)."""
    stopped = False
    with output.open("ab") as out:
        out.write(f"==== {now_iso()} {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            preexec_fn=functools.partial(_child_setup, tuple(ignore)),
        )
        _TRAINERS[output.parent] = proc

        def pass_on(signum: int, _frame: object) -> None:
            nonlocal stopped
            stopped = True
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

        forward = forward and threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, pass_on) for s in (signal.SIGTERM, signal.SIGINT)} if forward else {}
        try:
            rc = proc.wait()
        finally:
            _TRAINERS.pop(output.parent, None)
            for s, handler in previous.items():
                signal.signal(s, handler)
    return rc, stopped


def _child_setup(ignore: tuple[int, ...]) -> None:
    """In the child before exec: ignore ``ignore`` (kept across exec); get SIGTERM when the worker dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``)."""
    for signum in ignore:
        signal.signal(signum, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def _failure_reason(rc: int, state: str | None, output: Path) -> str:
    if rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
        reason = f"trainer killed by {name}" + (" (out of memory?)" if rc == -signal.SIGKILL else "")
    elif rc == 0:
        reason = f"trainer exited 0 but left the run {state or 'without a status'}"
    else:
        reason = f"trainer exited with status {rc}"
    last = _last_line(output)
    return one_line(f"{reason}: {last}" if last else reason)


def _last_line(path: Path, tail: int = 8192) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - tail))
            lines = [ln.strip() for ln in fh.read().decode(errors="replace").replace("\r", "\n").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln and not ln.startswith("====")]
    return lines[-1] if lines else ""


def _attempt_log(run_dir: Path, event: str, **fields: object) -> None:
    line = {
        "event": event,
        "time": now_iso(),
        "t": time.time(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        **fields,
    }
    fd = os.open(run_dir / ATTEMPTS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_attempts(run_dir: str | os.PathLike[str]) -> list[dict]:
    path = Path(run_dir) / ATTEMPTS_NAME
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    trainer: Sequence[str] = DEFAULT_TRAINER
    if "--" in argv:
        cut = argv.index("--")
        argv, trainer = argv[:cut], argv[cut + 1 :] or DEFAULT_TRAINER
    parser = argparse.ArgumentParser(prog="python -m benchmark.launch.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--runs-root", required=True)
    parser.add_argument("--no-wait", action="store_true", help=f"exit {EXIT_BUSY} at once if the run is locked")
    args = parser.parse_args(argv)
    return run_one(args.run_dir, args.runs_root, trainer=trainer, wait=not args.no_wait)


if __name__ == "__main__":
    sys.exit(main())
