"""Executors: where runs execute. One small interface, a local process pool and Slurm through submitit.

Every executor starts :mod:`benchmark.launch.worker` for a run (one process per run, so a crash or an OOM kill
ends only that run) and reports :class:`Outcome` s; the record on disk says whether the run is done.
The scheduler (:mod:`benchmark.launch.scheduler`) decides *what* may start; an executor decides *how many*.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.launch.plan import PlannedRun
from benchmark.launch.slurm_jobs import LIVE_STATES, base_state, read_job, write_job
from benchmark.launch.worker import (
    DEFAULT_TRAINER,
    EXIT_BUSY,
    EXIT_STOPPED,
    is_locked,
    run_one,
    run_rank,
    stop_trainer,
)
from benchmark.run.record import RunRecord, one_line

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
SIGNAL_DELAY_S = 90  # submitit's default: its warning signal (USR2) comes this long before the time limit


@dataclass(frozen=True)
class Outcome:
    run_id: str
    rc: int | None  # worker exit status (None: unknown, e.g. a lost Slurm job)
    busy_s: float  # seconds the worker occupied its slot
    reason: str | None = None  # the executor's explanation when the record may not have one
    busy_lock: bool = False  # the worker found the run locked by another process and did nothing


class Executor(ABC):
    """Starts planned runs and reports when they end."""

    name: str = "executor"

    @abstractmethod
    def start(self, runs: Sequence[PlannedRun]) -> list[str]:
        """Start what capacity allows of ``runs`` (all ready, best first); return the ids started."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes of runs that ended, waiting up to ``timeout`` seconds for the first one."""

    @abstractmethod
    def stop(self) -> None:
        """Stop everything still running (runs stay resumable) and release resources."""


def visible_gpus() -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else every device torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def gpus_needed(run: PlannedRun, available: int) -> int:
    """0 for CPU runs (or without GPUs), else one per DDP process (``train.processes``)."""
    if available == 0 or run.config.train.device == "cpu":
        return 0
    return max(1, run.config.train.processes)


def default_workers(runs: Sequence[PlannedRun], gpus: Sequence[str], cpus: int | None = None) -> int:
    """One worker per GPU; on CPU as many as the cores allow at the sweep's thread count (threads x processes)."""
    if gpus:
        return len(gpus)
    threads = max((r.config.train.num_threads * r.config.train.processes for r in runs), default=1)
    return max(1, (cpus or os.cpu_count() or 1) // threads)


def worker_env(run: PlannedRun, gpus: Sequence[str] | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The trainer's environment: thread count from ``train.num_threads``; ``CUDA_VISIBLE_DEVICES`` when
    GPUs exist (empty for a CPU run, so it cannot touch another run's GPU)."""
    env = dict(os.environ if base is None else base)
    for key in THREAD_ENV:
        env[key] = str(run.config.train.num_threads)
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    return env


class LocalExecutor(Executor):
    """A pool of ``workers`` slots on this machine; each run is a ``python -m benchmark.launch.worker`` subprocess.

    The thread budget is ``train.num_threads`` per run (it changes numerics, so the sweep fixes it and the
    pool size follows: :func:`default_workers`). GPUs are handed out through ``CUDA_VISIBLE_DEVICES``.
    """

    name = "local"

    def __init__(
        self,
        runs_root: str | os.PathLike[str],
        *,
        workers: int,
        trainer: Sequence[str] = DEFAULT_TRAINER,
        gpus: Sequence[str] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.runs_root = Path(runs_root)
        self.workers = workers
        self.trainer = tuple(trainer)
        self.gpus = list(visible_gpus() if gpus is None else gpus)
        self.free_gpus = list(self.gpus)
        self.procs: dict[str, tuple[subprocess.Popen, float, list[str]]] = {}
        self.immediate: list[Outcome] = []

    def start(self, runs: Sequence[PlannedRun]) -> list[str]:
        started = []
        for run in runs:
            if len(self.procs) >= self.workers:
                break
            need = gpus_needed(run, len(self.gpus))
            if need > len(self.gpus) or need > self.workers:
                reason = f"needs {need} GPUs, {len(self.gpus)} visible"
                RunRecord(run.record_dir(self.runs_root)).mark_failed(reason)
                self.immediate.append(Outcome(run.run_id, None, 0.0, reason))
                started.append(run.run_id)
                continue
            if need > len(self.free_gpus):
                continue
            gpus, self.free_gpus = self.free_gpus[:need], self.free_gpus[need:]
            cmd = [
                sys.executable,
                "-m",
                "benchmark.launch.worker",
                "--run-dir",
                str(run.record_dir(self.runs_root)),  # a cache node's is <out>/cache/nodes/<id>
                "--runs-root",
                str(self.runs_root),
                "--no-wait",
                "--",
                *(run.argv or self.trainer),  # a cache node runs its own command
            ]
            env = worker_env(run, gpus if self.gpus else None)
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
            self.procs[run.run_id] = (proc, time.monotonic(), gpus)
            started.append(run.run_id)
        return started

    def poll(self, timeout: float) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        while True:
            out, self.immediate = self.immediate, []
            for rid, (proc, t0, gpus) in list(self.procs.items()):
                rc = proc.poll()
                if rc is None:
                    continue
                del self.procs[rid]
                self.free_gpus += gpus
                reason = None if rc in (0, 1, EXIT_BUSY) else f"worker exited with status {rc}"
                out.append(Outcome(rid, rc, time.monotonic() - t0, reason, busy_lock=rc == EXIT_BUSY))
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))

    def stop(self) -> None:
        """SIGTERM every worker (each passes it on to its trainer), then SIGKILL what is left after 30 s."""
        for proc, _, _ in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc, _, _ in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


# ---------------------------------------------------------------------------- Slurm (submitit)


def _checkpointable() -> type:
    try:
        from submitit.helpers import Checkpointable
    except ImportError:  # pragma: no cover - exercised only without the slurm extra
        return object
    return Checkpointable


class RunJob(_checkpointable()):  # type: ignore[misc]
    """The callable a Slurm job runs: :func:`benchmark.launch.worker.run_one` on one run dir.

    A run with ``train.processes`` = P runs as P tasks (``nodes`` x ``tasks_per_node``): each task exports
    the process group's environment (submitit's ``TorchDistributedEnvironment``: ``MASTER_ADDR``, ``RANK``,
    ...); task 0 is the run's worker (lock, record), the others start only their trainer
    (:func:`benchmark.launch.worker.run_rank`).

    Slurm signals every process of a job. submitit's warning signal (USR2, ``signal_s`` before the time
    limit) goes to submitit's handler, which calls :meth:`checkpoint` in task 0 and requeues the job; the
    trainers ignore it. SIGTERM (``scontrol requeue``, preemption, ``scancel``, the time limit itself) reaches
    the trainers directly: they save ``last.pt`` and stop, and the job then ends without a result
    (``SystemExit``), so a requeued job simply runs again and resumes, and the launcher learns a cancelled
    job's end from the cluster.
    """

    def __init__(
        self,
        run_dir: str,
        runs_root: str,
        trainer: Sequence[str],
        threads: int,
        processes: int = 1,
        signal_s: float = SIGNAL_DELAY_S,
    ) -> None:
        self.run_dir, self.runs_root, self.trainer, self.threads = run_dir, runs_root, tuple(trainer), threads
        self.processes, self.signal_s = processes, signal_s

    def __call__(self) -> int:
        from submitit import JobEnvironment

        rank = 0
        if self.processes > 1:
            from submitit.helpers import TorchDistributedEnvironment

            rank = TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True).rank
        env = {**os.environ, **{key: str(self.threads) for key in THREAD_ENV}}
        ignore = (signal.Signals[f"SIG{JobEnvironment.USR_SIG}"],)
        if rank != 0:
            rc = run_rank(self.run_dir, self.runs_root, rank=rank, trainer=self.trainer, env=env, ignore=ignore)
            stopped = rc in (-signal.SIGTERM, EXIT_STOPPED)
        else:
            rc = run_one(
                self.run_dir, self.runs_root, trainer=self.trainer, env=env, forward_signals=False, ignore=ignore
            )
            stopped = rc != 0 and RunRecord(self.run_dir).state == "running"  # resumable: the trainer was stopped
        if stopped:
            sys.exit(rc or 1)
        return rc

    def checkpoint(self, *args: object, **kwargs: object) -> object:
        """submitit's handler of the warning signal (time limit near, or preemption), task 0 only: stop the
        trainer and wait until it has saved ``last.pt`` (at most ``signal_s``), then requeue this call.

        A warning that comes as the trainer finishes (after its last iteration, or between its end and this
        call's return) still requeues: submitit offers no way out of its handler but a requeue or a failed
        job. The run is done then, so the next attempt ends at once; the record's log says why it exists."""
        stop_trainer(self.run_dir, self.signal_s)
        record = RunRecord(self.run_dir)
        if record.is_done():
            record.log("warning signal after the run finished: Slurm requeues the job once more, it ends at once")
        return super().checkpoint(*args, **kwargs)


def signal_delay(time_min: int) -> int:
    """Seconds before the time limit for submitit's warning signal: ``SIGNAL_DELAY_S``, less for short limits.

    slurmctld checks limits every 30 s and signals at the first check within delay + 30 s of the limit, so a
    delay of at most 3/4 of the limit minus 30 s never signals a job in its first quarter (1 min: 15 s)."""
    return min(SIGNAL_DELAY_S, time_min * 45 - 30)


class SlurmExecutor(Executor):
    """Runs as Slurm jobs through submitit: ready runs with equal resources go out as one job array.

    ``cluster`` is passed to ``submitit.AutoExecutor`` ("slurm"; "local"/"debug" run the same path without
    a cluster, as the tests do). ``max_parallel`` caps running array tasks (``slurm_array_parallelism``).
    A run is requeued after at most ``max_timeouts`` time-outs (then it fails). On Slurm each run's job id
    goes into its record (:mod:`benchmark.launch.slurm_jobs`): a relaunch follows the jobs still queued or
    running instead of submitting them again. Job states are read from ``sacct`` at least every
    ``state_poll_s`` seconds (a job cancelled outside the launcher leaves no result: only its state says so).
    """

    name = "slurm"

    def __init__(
        self,
        runs_root: str | os.PathLike[str],
        folder: str | os.PathLike[str],
        *,
        cluster: str = "slurm",
        max_parallel: int | None = None,
        trainer: Sequence[str] = DEFAULT_TRAINER,
        job_name: str = "dfmsd-bench",
        poll_interval: float = 1.0,
        max_timeouts: int = 100,
        state_poll_s: float = 30.0,
    ) -> None:
        try:
            import submitit
        except ImportError:
            raise RuntimeError("the slurm executor needs submitit: pip install 'dfmsd-bench[slurm]'") from None
        self.runs_root = Path(runs_root)
        self.folder = Path(folder)
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster, slurm_max_num_timeout=max_timeouts)
        self.cluster = cluster
        self.max_parallel = max_parallel
        self.trainer = tuple(trainer)
        self.job_name = job_name
        self.poll_interval = poll_interval
        self.state_poll_s = state_poll_s
        self.refreshed = time.monotonic()
        self.jobs: dict[str, tuple[object, float, Path]] = {}  # run id -> (job, start, record dir)

    def parameters(self, run: PlannedRun) -> dict[str, object]:
        """submitit parameters from ``cfg.resources`` (generic names; ``slurm_*`` ignored off Slurm)."""
        res = run.config.resources
        params: dict[str, object] = {
            "name": self.job_name,
            "timeout_min": res.time_min,
            "mem_gb": res.mem_gb,
            "cpus_per_task": res.cpus,
            "gpus_per_node": res.gpus,
            "nodes": res.nodes,
            "tasks_per_node": max(1, run.config.train.processes // max(res.nodes, 1)),
            "slurm_signal_delay_s": signal_delay(res.time_min),
        }
        if res.partition:
            params["slurm_partition"] = res.partition
        if self.max_parallel:
            params["slurm_array_parallelism"] = self.max_parallel
        return params

    def start(self, runs: Sequence[PlannedRun]) -> list[str]:
        started = self._attach(runs) if self.cluster == "slurm" else []
        groups: dict[tuple, list[PlannedRun]] = {}
        for run in runs:
            if run.run_id not in started:
                groups.setdefault(tuple(sorted(self.parameters(run).items())), []).append(run)
        for key, group in groups.items():
            params = dict(key)
            self.executor.update_parameters(**params)
            calls = [
                RunJob(
                    str(r.record_dir(self.runs_root)),
                    str(self.runs_root),
                    r.argv or self.trainer,
                    r.config.train.num_threads,
                    processes=r.config.train.processes,
                    signal_s=params["slurm_signal_delay_s"],
                )
                for r in group
            ]
            with self.executor.batch():
                jobs = [self.executor.submit(call) for call in calls]
            now = time.monotonic()
            for run, job in zip(group, jobs):
                self.jobs[run.run_id] = (job, now, run.record_dir(self.runs_root))
                if self.cluster == "slurm":
                    write_job(run.record_dir(self.runs_root), job.job_id, job.num_tasks)
                started.append(run.run_id)
        return started

    def _attach(self, runs: Sequence[PlannedRun]) -> list[str]:
        """Follow the runs whose job, noted in their record by an earlier launch, is still queued or running."""
        from submitit import SlurmJob

        noted = [(run, read_job(run.record_dir(self.runs_root))) for run in runs]
        jobs = [
            (run, SlurmJob(folder=self.folder, job_id=job["job_id"], tasks=tuple(range(int(job.get("tasks", 1))))))
            for run, job in noted
            if job is not None
        ]  # every job registered first: the first state below asks sacct about all of them at once
        attached = []
        for run, job in jobs:
            state = base_state(job.state)
            if state in LIVE_STATES:
                self.jobs[run.run_id] = (job, time.monotonic(), run.record_dir(self.runs_root))
                attached.append(run.run_id)
                print(f"{run.run_id}: following its Slurm job {job.job_id} ({state})", file=sys.stderr)
        return attached

    def poll(self, timeout: float) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        while True:
            self._refresh()
            out = []
            for rid, (job, t0, record_dir) in list(self.jobs.items()):
                # Slurm says CANCELLED at once, while the trainer may still be saving: over once its locks are free
                if not job.done() or is_locked(record_dir):
                    continue
                del self.jobs[rid]
                rc, reason = self._ending(job)
                out.append(Outcome(rid, rc, time.monotonic() - t0, reason))
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def _refresh(self) -> None:
        """One ``sacct`` call for every job's state once ``state_poll_s`` has passed (submitit alone may wait
        10 minutes between calls)."""
        if self.cluster != "slurm" or not self.jobs or time.monotonic() - self.refreshed < self.state_poll_s:
            return
        self.refreshed = time.monotonic()
        next(iter(self.jobs.values()))[0].get_info(mode="force")

    @staticmethod
    def _ending(job: object) -> tuple[int | None, str | None]:
        """(worker status, reason) of an ended job; a cancelled one has no result to wait for."""
        state = base_state(str(job.state))
        if state == "CANCELLED":
            return None, f"cancelled by Slurm (job {job.job_id})"
        try:
            return int(job.result()), None
        except Exception as exc:  # the job died outside the worker (time limit, node failure, ...)
            return None, one_line(f"slurm job {job.job_id} ended {state}: {exc}")

    def stop(self) -> None:
        """Cancel jobs that have not ended (their runs stay resumable)."""
        for job, _, _ in self.jobs.values():
            with contextlib.suppress(Exception):
                job.cancel(check=False)
        self.jobs.clear()
