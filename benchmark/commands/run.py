"""``dfmsd-bench run SWEEP.yaml [--out DIR] [--workers N] [--executor local|slurm] [--retry-failed]
[--order cost|seed] [k=v ...]``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from benchmark.commands import overrides_anywhere
from benchmark.commands.plan import default_out
from benchmark.errors import UserError
from benchmark.launch.executors import Executor, LocalExecutor, SlurmExecutor, default_workers, visible_gpus
from benchmark.launch.neighbours import other_trainers
from benchmark.launch.plan import Plan, load_plan
from benchmark.launch.results import collect_rows, format_table, log_wandb_summary
from benchmark.launch.scheduler import ORDERS, SweepLockedError, execute, sweep_lock
from benchmark.run.record import RunRecord


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="train every run of a sweep that is not done yet (teachers first)",
        description="Plan and validate a sweep, then train its runs, each in its own process; relaunching the "
        "same command skips finished runs and resumes interrupted ones. Exit status 0 iff every run is done.",
    )
    p.add_argument("sweep", help="sweep file (sweeps/*.yaml)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override any run-config key for every run")
    overrides_anywhere(p)
    p.add_argument("--out", help="output directory (default: runs/<sweep name>)")
    p.add_argument("--workers", type=int, help="parallel runs (local default: cores / train.num_threads, or GPUs)")
    p.add_argument("--executor", choices=("local", "slurm"), default="local")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again (default: keep them failed)")
    p.add_argument(
        "--order",
        choices=ORDERS,
        default="cost",
        help="which ready run starts first: cost = the longest chain of work (default: the shortest sweep); "
        "seed = every run of the lowest seed first, so a sweep stopped early leaves complete seeds to compare",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def make_executor(kind: str, plan: Plan, out: Path, workers: int | None) -> Executor:
    runs_root = out / "runs"
    if kind == "slurm":
        try:
            return SlurmExecutor(runs_root, out / "slurm", max_parallel=workers, job_name=f"dfmsd-{plan.name}")
        except RuntimeError as exc:
            raise UserError(str(exc)) from None
    gpus = visible_gpus()
    n = workers or default_workers(list(plan.runs.values()), gpus)
    if n < 1:
        raise UserError(f"--workers: must be >= 1, got {n}")
    todo = [r for r in plan.runs.values() if not RunRecord(r.record_dir(runs_root)).is_done()]
    threads = max((r.config.train.num_threads for r in todo), default=1)
    cpus = os.cpu_count() or 1
    why = "a run of several threads beside other busy processes can slow many-fold: its threads wait for each other"
    if not gpus and min(n, len(todo)) * threads > cpus:
        print(
            f"note: {n} workers x {threads} threads > {cpus} cores: runs will compete for CPU ({why})", file=sys.stderr
        )
    others = other_trainers() if not gpus and todo else []
    if others:
        pids = ", ".join(map(str, others[:5])) + (", ..." if len(others) > 5 else "")
        print(
            f"note: {len(others)} other dfmsd-bench training process(es) on this machine (pid {pids}): this sweep's "
            f"runs share the {cpus} cores with them ({why})",
            file=sys.stderr,
        )
    return LocalExecutor(runs_root, workers=n, gpus=gpus)


def main(args: argparse.Namespace) -> int:
    plan = load_plan(args.sweep, args.overrides)
    out = Path(args.out) if args.out else default_out(plan)
    try:  # a second launch on this folder is refused (one line) before the executor's notes on the machine
        sweep_lock(out).release()
    except SweepLockedError as exc:
        raise UserError(str(exc)) from None
    executor = make_executor(args.executor, plan, out, args.workers)

    def terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        result = execute(
            plan, out, executor, retry_failed=args.retry_failed, progress=not args.no_progress, order=args.order
        )
    except SweepLockedError as exc:
        raise UserError(str(exc)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    rows = [r for r in collect_rows(out) if r["run_id"] in plan.runs]
    print(format_table(rows))
    students = [r for r in plan.runs.values() if r.role == "student"] or list(plan.runs.values())
    folder = log_wandb_summary(plan.name, out, rows, students[0].config.tracking)
    if folder is not None:
        print(f"W&B summary run: {folder}")
    print(
        f"{len(result.done)}/{len(plan.runs)} done ({len(result.skipped)} already done, "
        f"{len(result.started)} started), {len(result.failed)} failed; {result.wall_s:.1f} s; records in {out / 'runs'}"
    )
    if plan.caches:
        failed = "; ".join(f"{cid}: {why}" for cid, why in result.cache_failed.items())
        print(
            f"teacher-feature cache nodes: {len(result.cache_done)}/{len(plan.caches)} done"
            + (f", failed (students fell back to building it or to the live teacher): {failed}" if failed else "")
        )
    if plan.checks:
        failed = "; ".join(f"{cid}: {why}" for cid, why in result.check_failed.items())
        print(
            f"teacher checks: {len(result.check_done)}/{len(plan.checks)} passed"
            + (f", failed (their students were not trained): {failed}" if failed else "")
        )
    if result.failed or result.cache_failed:
        print("retry the failed runs and cache nodes with --retry-failed", file=sys.stderr)
    return 0 if len(result.done) == len(plan.runs) else 1
