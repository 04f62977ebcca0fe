"""``dfmsd-bench status DIR [--watch N]``: state, progress, ETA and best mAP of every run, from the records."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmark.errors import UserError
from benchmark.launch.plan import CACHE_NODES_DIR
from benchmark.launch.results import collect_cache_rows, collect_rows, format_cache_table, format_table
from benchmark.launch.slurm_jobs import format_job_table

ACTIVE = ("queued", "starting", "running")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "status",
        help="show the runs of an output directory: state, progress, ETA, best mAP",
        description="Read the run records under DIR/runs and print one line per run, then one per teacher-feature "
        "cache node (DIR/cache/nodes). 'interrupted' is a run whose record says running but whose process is gone "
        "(the next 'run' resumes it). Runs launched with --executor slurm get a third table: their Slurm job ids "
        "and the jobs' states (from sacct).",
    )
    p.add_argument("dir", help="output directory of a sweep (the --out of 'run')")
    p.add_argument("--watch", type=float, metavar="N", help="refresh every N seconds until no run is active")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    if not (out / "runs").is_dir():
        raise UserError(f"{out}: no runs/ folder here (not the output directory of a sweep)")
    if args.watch is not None and args.watch <= 0:
        raise UserError(f"--watch: must be > 0 seconds, got {args.watch}")
    while True:
        rows = collect_rows(out)
        caches = collect_cache_rows(out)
        records = [out / "runs" / r["run_id"] for r in rows] + [out.joinpath(*CACHE_NODES_DIR, c["id"]) for c in caches]
        tables = (format_table(rows), format_cache_table(caches), format_job_table(records))
        text = "\n".join(t for t in tables if t)
        if args.watch is None:
            print(text)
            return 0
        print(f"\033[2J\033[H{time.strftime('%H:%M:%S')}  {out}\n{text}", flush=True)
        if not any(r["state"] in ACTIVE for r in [*rows, *caches]):
            return 0
        time.sleep(args.watch)
