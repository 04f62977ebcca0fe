"""Harness benchmarks on the smoke sweep (real trainer by default; ``--fake`` uses the tests' fake trainer).

1. utilization: busy worker-seconds / (workers x wall) for one full sweep with 2 workers (target >= 90 %);
2. relaunch of the finished sweep: wall time and runs trained (target < 5 s, 0), in-process and via the CLI;
3. kill/resume: N SIGKILLs of the launcher at random moments, then a final launch; lost runs (planned but
   not done or missing) and duplicated trainings (a run trained to completion twice, or two attempts of one
   run overlapping in time) from the records (target 0 and 0).

    .venv/bin/python scripts/bench_harness.py [--kills 3] [--seeds 2] [--fake]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark.executors import LocalExecutor  # noqa: E402
from benchmark.scheduler import execute  # noqa: E402
from benchmark.sweep import build_plan, sweep_from_dict  # noqa: E402
from benchmark.worker import DEFAULT_TRAINER, read_attempts  # noqa: E402

FAKE = (sys.executable, str(ROOT / "tests" / "harness" / "fake_trainer.py"))


def smoke_file(tmp: Path, seeds: int) -> Path:
    data = yaml.safe_load((ROOT / "sweeps" / "smoke.yaml").read_text())
    data["grid"]["seed"] = list(range(seeds))
    path = tmp / "smoke.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def utilization(sweep: Path, out: Path, trainer: tuple[str, ...], workers: int) -> dict:
    plan = build_plan(sweep_from_dict(yaml.safe_load(sweep.read_text()), str(sweep)))
    ex = LocalExecutor(out / "runs", workers=workers, trainer=trainer, gpus=[])
    result = execute(plan, out, ex, progress=False, log=lambda m: None)
    assert result.ok, result.failed
    util = result.busy_s / (workers * result.wall_s)
    print(
        f"utilization: {len(plan.runs)} runs, {workers} workers, wall {result.wall_s:.1f} s, "
        f"busy {result.busy_s:.1f} s -> {100 * util:.1f} %"
    )
    t0 = time.monotonic()
    again = execute(plan, out, LocalExecutor(out / "runs", workers=workers, trainer=trainer, gpus=[]), progress=False)
    in_process = time.monotonic() - t0
    t0 = time.monotonic()
    cli = subprocess.run(
        [str(Path(sys.executable).with_name("dfmsd-bench")), "run", str(sweep), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
    )
    cli_wall = time.monotonic() - t0
    print(
        f"relaunch of the finished sweep: {in_process:.3f} s in process, {cli_wall:.1f} s via the CLI "
        f"(python + torch import included); runs trained: {len(again.started)} / CLI exit {cli.returncode}"
    )
    return {
        "runs": len(plan.runs),
        "utilization": util,
        "relaunch_s": in_process,
        "relaunch_cli_s": cli_wall,
        "relaunch_trained": len(again.started),
    }


def kill_resume(sweep: Path, out: Path, trainer: tuple[str, ...], kills: int, seed: int) -> dict:
    rnd = random.Random(seed)
    code = (
        "import sys, yaml\n"
        "from benchmark.executors import LocalExecutor\nfrom benchmark.scheduler import execute\n"
        "from benchmark.sweep import build_plan, sweep_from_dict\n"
        "sweep, out, trainer = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
        "plan = build_plan(sweep_from_dict(yaml.safe_load(open(sweep)), sweep))\n"
        "r = execute(plan, out, LocalExecutor(out + '/runs', workers=2, trainer=trainer, gpus=[]), progress=False)\n"
        "sys.exit(0 if r.ok else 1)\n"
    )
    cmd = [sys.executable, "-c", code, str(sweep), str(out), *trainer]
    killed_at = []
    for _ in range(kills):
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
        delay = rnd.uniform(1.0, 10.0)
        try:
            proc.wait(timeout=delay)
            break  # finished before the kill
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_at.append(round(delay, 1))
    final = subprocess.run(cmd, cwd=ROOT, stderr=subprocess.DEVNULL, timeout=1800)
    planned = [e["run_id"] for e in json.loads((out / "plan.json").read_text())["runs"]]
    dirs = sorted(p.name for p in (out / "runs").iterdir() if p.is_dir())
    lost = [rid for rid in planned if not _done(out / "runs" / rid)]
    duplicated = [rid for rid in planned if _duplicated(out / "runs" / rid)]
    extra = sorted(set(dirs) - set(planned))
    print(
        f"kill/resume: {len(killed_at)} SIGKILLs at {killed_at} s, final launch exit {final.returncode}: "
        f"{len(planned)} runs, lost {len(lost)}, duplicated {len(duplicated)}, unplanned dirs {len(extra)}"
    )
    return {"kills": killed_at, "lost": lost, "duplicated": duplicated, "extra_dirs": extra}


def _done(path: Path) -> bool:
    status = path / "status.json"
    return status.exists() and json.loads(status.read_text()).get("state") == "done"


def _duplicated(path: Path) -> bool:
    attempts = read_attempts(path)
    done_ends = [a for a in attempts if a["event"] == "end" and a.get("state") == "done"]
    if len(done_ends) > 1:
        return True
    by_pid: dict[int, list[float]] = {}
    for a in attempts:
        by_pid.setdefault(a["pid"], []).append(a["t"])
    spans = sorted((min(ts), max(ts)) for ts in by_pid.values())
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:]))  # two workers training at once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2, help="seeds in the smoke grid (2 = as shipped: 5 runs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fake", action="store_true", help="use the tests' fake trainer (no torch training)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    trainer = FAKE if args.fake else DEFAULT_TRAINER
    if args.fake:
        os.environ.setdefault("FAKE_STEP_S", "0.5")
    tmp = Path(tempfile.mkdtemp(prefix="bench_harness_"))
    try:
        sweep = smoke_file(tmp, args.seeds)
        util = utilization(sweep, tmp / "util", trainer, args.workers)
        kill = kill_resume(sweep, tmp / "kill", trainer, args.kills, args.seed)
        print(json.dumps({"trainer": "fake" if args.fake else "real", "util": util, "kill_resume": kill}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
