"""Harness benchmarks on the smoke sweep (real trainer by default; ``--fake`` uses the tests' fake trainer).

1. utilization: busy worker-seconds / (workers x wall) for one full sweep with 2 workers (target >= 90 %);
2. relaunch of the finished sweep: wall time and runs trained (target < 5 s, 0), in-process and via the CLI;
3. kill/resume: N SIGKILLs of the launcher's process group at seeded random moments, each relaunching it,
   then launches until the sweep ends; lost records (planned runs not done, or done without final metrics)
   and duplicated records (a run trained to completion twice, or two attempts of one run overlapping in
   time) from the records (target 0 and 0), plus the same for the teacher-feature cache nodes and how many
   times a cache was built (target: once per cache).

The workers run in sessions of their own, so SIGKILL of the launcher's group leaves them training; the next
launch finds their locks held and waits for them (never starting a run twice), then resumes what is left.

    .venv/bin/python scripts/bench_harness.py [--kills 3] [--seeds 2] [--fake]
    .venv/bin/python scripts/bench_harness.py --only kill --kills 20 --seeds 16 --iterations 200 --delay 5 12

The last line is the issue-6 trial (33 runs + 1 cache node, ~5 min on 2 cores): the shipped smoke sweep ends
before 20 kills, and delays of 5-12 s let each launch get past its ~4 s start-up, so every kill lands while
runs are training. Measured 2026-11-26 on the 2-core reference machine: 20 kills, 21 launches, lost 0,
duplicated 0, 33 worker attempts for 33 runs, the cache built once, 315 s wall.
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

from benchmark.launch.executors import LocalExecutor  # noqa: E402
from benchmark.launch.plan import build_plan  # noqa: E402
from benchmark.launch.scheduler import execute  # noqa: E402
from benchmark.launch.spec import sweep_from_dict  # noqa: E402
from benchmark.launch.worker import DEFAULT_TRAINER, read_attempts  # noqa: E402

FAKE = (sys.executable, str(ROOT / "tests" / "launch" / "fake_trainer.py"))


def smoke_file(tmp: Path, seeds: int, *, iterations: int | None = None) -> Path:
    """The smoke sweep with ``seeds`` seeds (and ``iterations`` for teachers and students, if given)."""
    data = yaml.safe_load((ROOT / "sweeps" / "smoke.yaml").read_text())
    data["grid"]["seed"] = list(range(seeds))
    if iterations is not None:
        data["base"]["train"]["iterations"] = iterations
        for teacher in data["teachers"].values():
            teacher.setdefault("train", {})["iterations"] = iterations
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


LAUNCHER = (
    "import sys, yaml\n"
    "from benchmark.launch.executors import LocalExecutor\nfrom benchmark.launch.scheduler import execute\n"
    "from benchmark.launch.plan import build_plan\nfrom benchmark.launch.spec import sweep_from_dict\n"
    "sweep, out, workers, trainer = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]\n"
    "plan = build_plan(sweep_from_dict(yaml.safe_load(open(sweep)), sweep))\n"
    "ex = LocalExecutor(out + '/runs', workers=workers, trainer=trainer, gpus=[])\n"
    "r = execute(plan, out, ex, progress=False)\n"
    "sys.exit(0 if r.ok else 1)\n"
)


def kill_resume(
    sweep: Path,
    out: Path,
    trainer: tuple[str, ...],
    kills: int,
    seed: int,
    *,
    workers: int = 2,
    delay: tuple[float, float] = (1.0, 10.0),
) -> dict:
    """SIGKILL the launcher's process group ``kills`` times, each after a seeded random delay in ``delay``
    seconds from its start, relaunching it every time; then launch until the sweep is done; read the records."""
    rnd = random.Random(seed)
    cmd = [sys.executable, "-c", LAUNCHER, str(sweep), str(out), str(workers), *trainer]
    t0 = time.monotonic()
    killed_at, done_at_kill, launches, finished_early = [], [], 0, False
    for _ in range(kills):
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL, start_new_session=True)
        launches += 1
        wait = rnd.uniform(*delay)
        try:
            proc.wait(timeout=wait)
            finished_early = True  # the sweep ended before this kill: no more kills can land
            break
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher's group; workers live in their own sessions
            proc.wait()
            killed_at.append(round(wait, 1))
            done_at_kill.append(sum(_done(p) for p in _dirs(out / "runs")))
    finals = []
    while True:  # relaunch until the sweep ends (a launch also waits for workers of killed launches)
        final = subprocess.run(cmd, cwd=ROOT, stderr=subprocess.DEVNULL, timeout=3600)
        launches += 1
        finals.append(final.returncode)
        if final.returncode == 0 or len(finals) >= 3:
            break
    wall = time.monotonic() - t0
    planned = [e["run_id"] for e in json.loads((out / "plan.json").read_text())["runs"]]
    caches = [e["id"] for e in json.loads((out / "plan.json").read_text()).get("caches", [])]
    node_root = out / "cache" / "nodes"
    lost = [rid for rid in planned if not (_done(out / "runs" / rid) and _has_final_metrics(out / "runs" / rid))]
    duplicated = [rid for rid in planned if _duplicated(out / "runs" / rid)]
    extra = sorted({p.name for p in _dirs(out / "runs")} - set(planned))
    caches_lost = [n for n in caches if not _done(node_root / n)]
    caches_duplicated = [n for n in caches if _duplicated(node_root / n)]
    logs = [*(p / "log.txt" for p in _dirs(out / "runs")), *(p / "log.txt" for p in _dirs(node_root))]
    builds = sum(f.read_text().count(": built ") for f in logs if f.exists())
    attempts = sum(sum(a["event"] == "start" for a in read_attempts(out / "runs" / rid)) for rid in planned)
    print(
        f"kill/resume: {len(killed_at)} SIGKILLs of the launcher (delays {killed_at} s after each start; runs done "
        f"at each kill {done_at_kill}){' - the sweep ended before all kills' if finished_early else ''}; "
        f"{launches} launches, final exit {finals}; {len(planned)} runs: lost {len(lost)}, duplicated "
        f"{len(duplicated)}, unplanned dirs {len(extra)}; worker attempts {attempts}; {len(caches)} cache node(s): "
        f"not done {len(caches_lost)}, duplicated {len(caches_duplicated)}, cache builds {builds}; "
        f"wall {wall:.1f} s"
    )
    return {
        "kills": len(killed_at),
        "kill_delays_s": killed_at,
        "runs_done_at_kill": done_at_kill,
        "finished_before_all_kills": finished_early,
        "launches": launches,
        "final_exit": finals,
        "runs": len(planned),
        "lost": lost,
        "duplicated": duplicated,
        "extra_dirs": extra,
        "worker_attempts": attempts,
        "cache_nodes": len(caches),
        "cache_nodes_not_done": caches_lost,
        "cache_nodes_duplicated": caches_duplicated,
        "cache_builds": builds,
        "wall_s": round(wall, 1),
    }


def _dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _done(path: Path) -> bool:
    status = path / "status.json"
    return status.exists() and json.loads(status.read_text()).get("state") == "done"


def _has_final_metrics(path: Path) -> bool:
    metrics = path / "metrics.json"
    return metrics.exists() and "mAP" in (json.loads(metrics.read_text()).get("final") or {})


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
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of the launcher (kill/resume trial)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds in the smoke grid (2 = as shipped: 5 runs)")
    parser.add_argument("--iterations", type=int, help="train.iterations of every run (default: smoke's 4)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fake", action="store_true", help="use the tests' fake trainer (no torch training)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    parser.add_argument(
        "--delay",
        type=float,
        nargs=2,
        default=(1.0, 10.0),
        metavar=("MIN", "MAX"),
        help="each kill lands uniformly MIN..MAX s after its launch starts (default 1 10)",
    )
    parser.add_argument("--only", choices=("util", "kill"), help="run only one of the two benchmarks")
    args = parser.parse_args()
    trainer = FAKE if args.fake else DEFAULT_TRAINER
    if args.fake:
        os.environ.setdefault("FAKE_STEP_S", "0.5")
    tmp = Path(tempfile.mkdtemp(prefix="bench_harness_"))
    try:
        sweep = smoke_file(tmp, args.seeds, iterations=args.iterations)
        util = kill = None
        if args.only != "kill":
            util = utilization(sweep, tmp / "util", trainer, args.workers)
        if args.only != "util":
            kill = kill_resume(
                sweep, tmp / "kill", trainer, args.kills, args.seed, workers=args.workers, delay=tuple(args.delay)
            )
        print(json.dumps({"trainer": "fake" if args.fake else "real", "util": util, "kill_resume": kill}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
