"""Scheduling with the fake trainer: dependencies, skips, failures, retries, locks, resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmark.launch.executors import LocalExecutor
from benchmark.launch.plan import build_plan
from benchmark.launch.scheduler import SweepLockedError, execute, run_dir, run_state, sweep_lock
from benchmark.launch.spec import sweep_from_dict
from benchmark.launch.worker import RunLock, read_attempts
from benchmark.run.record import RunRecord


def smoke_plan(smoke, overrides=()):
    return build_plan(sweep_from_dict(smoke, "smoke.yaml", overrides))


def local(out, trainer, workers=2):
    return LocalExecutor(Path(out) / "runs", workers=workers, trainer=trainer, gpus=[])


def trainings(out, rid):
    log = run_dir(out, rid) / "fake_trained.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_runs_everything_teachers_first_and_relaunch_skips(tmp_path, smoke_dict, fake_trainer):
    plan = smoke_plan(smoke_dict)
    result = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False)
    assert result.ok and set(result.done) == set(plan.runs) and result.skipped == []
    for rid, run in plan.runs.items():
        assert RunRecord(run_dir(tmp_path, rid)).is_done() and trainings(tmp_path, rid) == 1
        starts = [a["t"] for a in read_attempts(run_dir(tmp_path, rid)) if a["event"] == "start"]
        for dep in run.deps:  # a student starts only after its teacher ended
            dep_end = [a["t"] for a in read_attempts(run_dir(tmp_path, dep)) if a["event"] == "end"]
            assert min(starts) > max(dep_end)
    again = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False)
    assert again.started == [] and set(again.skipped) == set(plan.runs) and again.ok
    assert all(trainings(tmp_path, rid) == 1 for rid in plan.runs)


def test_failed_teacher_fails_its_dependents_and_retry(tmp_path, smoke_dict, fake_trainer, monkeypatch):
    plan = smoke_plan(smoke_dict)
    teacher = next(r.run_id for r in plan.runs.values() if r.role == "teacher")
    monkeypatch.setenv("FAKE_FAIL", "faster_rcnn_mnv2_fpn256")
    result = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False)
    assert result.failed[teacher] == "RuntimeError: fake failure"
    dependents = [r.run_id for r in plan.runs.values() if teacher in r.deps]
    for rid in dependents:
        assert result.failed[rid] == f"dependency {teacher} failed"
        assert RunRecord(run_dir(tmp_path, rid)).read_status()["reason"] == f"dependency {teacher} failed"
    assert len(result.done) == len(plan.runs) - 1 - len(dependents)  # the sweep went on
    # without --retry-failed nothing is retried; with it, everything finishes
    monkeypatch.delenv("FAKE_FAIL")
    assert execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False).started == []
    retried = execute(plan, tmp_path, local(tmp_path, fake_trainer), retry_failed=True, progress=False)
    assert retried.ok and sorted(retried.started) == sorted([teacher, *dependents])


def test_crash_without_a_word_is_recorded(tmp_path, smoke_dict, fake_trainer, monkeypatch):
    monkeypatch.setenv("FAKE_CRASH", "retinanet_mnv2_fpn64")
    plan = smoke_plan(smoke_dict, ["distill.method=none", "seed=0"])
    (rid,) = plan.runs
    result = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False)
    assert result.failed[rid].startswith("trainer killed by SIGKILL (out of memory?)")
    assert run_state(run_dir(tmp_path, rid)) == "failed"


def test_second_launch_on_the_same_directory_is_refused(tmp_path, smoke_dict, fake_trainer):
    plan = smoke_plan(smoke_dict)
    lock = sweep_lock(tmp_path)
    try:
        with pytest.raises(SweepLockedError, match="another dfmsd-bench launch"):
            execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False)
        # the same refusal from the command line, as one line with exit status 2
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("dfmsd-bench")), "run", "sweeps/smoke.yaml", "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "another dfmsd-bench launch" in proc.stderr
    finally:
        lock.release()
    assert not any((tmp_path / "runs").glob("*/fake_trained.log"))


def test_run_trained_elsewhere_is_waited_for_not_duplicated(tmp_path, smoke_dict, fake_trainer):
    plan = smoke_plan(smoke_dict, ["distill.method=none", "seed=0"])
    (rid,) = plan.runs
    from benchmark.launch.scheduler import prepare_records

    prepare_records(plan, tmp_path)
    other = RunLock(run_dir(tmp_path, rid))
    assert other.acquire(blocking=False)
    RunRecord(run_dir(tmp_path, rid)).mark_running(total_iterations=4)
    assert run_state(run_dir(tmp_path, rid)) == "running"

    def finish_elsewhere():
        time.sleep(0.5)
        RunRecord(run_dir(tmp_path, rid)).mark_done()
        other.release()

    import threading

    threading.Thread(target=finish_elsewhere).start()
    result = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False, log=lambda m: None)
    assert result.ok and result.started == [] and trainings(tmp_path, rid) == 0


LAUNCHER = textwrap.dedent(
    """
    import sys, yaml
    from benchmark.launch.executors import LocalExecutor
    from benchmark.launch.scheduler import execute
    from benchmark.launch.plan import build_plan
    from benchmark.launch.spec import sweep_from_dict
    out, trainer = sys.argv[1], sys.argv[2:]
    data = yaml.safe_load(open("sweeps/smoke.yaml"))
    data["grid"]["seed"] = [0, 1, 2]
    plan = build_plan(sweep_from_dict(data, "smoke.yaml", ["train.iterations=12"]))
    result = execute(plan, out, LocalExecutor(out + "/runs", workers=2, trainer=trainer, gpus=[]), progress=False)
    sys.exit(0 if result.ok else 1)
    """
)


def test_resume_after_the_launcher_is_sigkilled(tmp_path, fake_trainer, monkeypatch):
    """Really SIGKILL the launcher mid-sweep, relaunch: every run done, each trained exactly once."""
    monkeypatch.setenv("FAKE_STEP_S", "0.05")
    cwd = Path(__file__).parents[2]
    cmd = [sys.executable, "-c", LAUNCHER, str(tmp_path), *fake_trainer]
    proc = subprocess.Popen(cmd, cwd=cwd)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(tmp_path.glob("runs/*/attempts.jsonl"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    started_before = len(list(tmp_path.glob("runs/*/attempts.jsonl")))
    assert started_before >= 1
    again = subprocess.run(cmd, cwd=cwd, timeout=120)
    assert again.returncode == 0
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    plan_ids = [e["run_id"] for e in json.loads((tmp_path / "plan.json").read_text())["runs"]]
    assert sorted(p.name for p in runs) == sorted(plan_ids) and len(runs) == 7  # 1 teacher + 6 students
    for p in runs:
        assert RunRecord(p).is_done()
        assert len((p / "fake_trained.log").read_text().splitlines()) == 1, p.name


def test_seed_order_finishes_every_condition_of_a_seed_before_the_next(tmp_path, smoke_dict, fake_trainer):
    plan = smoke_plan(smoke_dict)
    seed_of = {rid: r.config.seed for rid, r in plan.runs.items() if r.role == "student"}
    by_cost = execute(plan, tmp_path / "cost", local(tmp_path / "cost", fake_trainer, workers=1), progress=False)
    by_seed = execute(
        plan, tmp_path / "seed", local(tmp_path / "seed", fake_trainer, workers=1), progress=False, order="seed"
    )
    assert by_cost.ok and by_seed.ok
    cost_seeds = [seed_of[r] for r in by_cost.started if r in seed_of]
    seed_seeds = [seed_of[r] for r in by_seed.started if r in seed_of]
    assert cost_seeds != sorted(cost_seeds)  # the default starts mimic (costlier) of both seeds first
    assert seed_seeds == sorted(seed_seeds) == [0, 0, 1, 1]
    assert set(by_cost.started) == set(by_seed.started)


def test_unknown_order_is_refused(tmp_path, smoke_dict, fake_trainer):
    with pytest.raises(ValueError, match="order must be one of cost, seed"):
        execute(smoke_plan(smoke_dict), tmp_path, local(tmp_path, fake_trainer), progress=False, order="random")
