"""A stand-in for ``python -m benchmark.run.train`` with the same command line and record writes, seconds-free.

It trains nothing: it reads the run's config.yaml, checks that every teacher run is done (as the real
trainer needs its weights), marks the run running, "trains" ``train.iterations`` steps of
``$FAKE_STEP_S`` seconds each (default 0.01) with status updates, writes metrics and marks it done.
``$FAKE_FAIL`` (comma-separated model names) makes runs of those models fail with a recorded reason;
``$FAKE_CRASH`` (model names) makes them die by SIGKILL without a word, like an OOM kill.
Every completed training appends a line to ``<run>/fake_trained.log`` so tests can count trainings.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from benchmark.run.metrics import RunMetrics
from benchmark.run.record import RunRecord
from benchmark.run.resolve import resolve


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--runs-root", required=True)
    args = parser.parse_args()
    record = RunRecord(args.run_dir)
    cfg = record.load_config()
    run = resolve(cfg)
    for stage in run.stages:
        if stage.teacher_run is not None:
            teacher = RunRecord(Path(args.runs_root) / stage.teacher_run)
            if not teacher.is_done():
                record.mark_failed(f"teacher run {teacher.dir.name} is not done")
                return 4
    total = cfg.train.iterations
    record.mark_running(total_iterations=total)
    step = float(os.environ.get("FAKE_STEP_S", "0.01"))
    for it in range(1, total + 1):
        time.sleep(step)
        record.update_status(iteration=it, eta_s=(total - it) * step)
        if cfg.model.name in os.environ.get("FAKE_CRASH", "").split(","):
            os.kill(os.getpid(), signal.SIGKILL)
        if cfg.model.name in os.environ.get("FAKE_FAIL", "").split(","):
            print("RuntimeError: fake failure", file=sys.stderr)
            record.mark_failed("RuntimeError: fake failure")
            return 1
    mAP = round(0.01 * (1 + cfg.seed), 4)
    record.write_metrics(
        RunMetrics(
            run_id=run.run_id,
            role=run.role,
            method=run.method,
            final={"mAP": mAP, "AP50": 2 * mAP},
            best={"mAP": mAP, "iter": total, "split": "test"},
        )
    )
    with (record.dir / "fake_trained.log").open("a") as fh:
        fh.write(f"{os.getpid()} {time.time()}\n")
    record.mark_done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
