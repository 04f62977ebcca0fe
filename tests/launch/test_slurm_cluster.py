"""``dfmsd-bench run SWEEP --executor slurm`` on a real one-node Slurm cluster (``scripts/slurm_local.sh``) with
tiny synthetic runs (CPU, one thread), and what a cluster does to them: dependencies between jobs, a requeue
mid-training, a time limit shorter than the training, ``scancel``, a launcher killed by SIGKILL, a 2-task DDP
run and the resource requests that reach ``sbatch``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from benchmark.launch.slurm_jobs import read_job
from benchmark.launch.worker import read_attempts
from benchmark.run.record import RunRecord

pytestmark = [pytest.mark.slurm, pytest.mark.slow]  # slow too: the fast default run (-m "not slow") leaves them out

RESOURCES = {"cpus": 1, "mem_gb": 2, "time_min": 10}


def _sweep(tmp_path: Path, smoke: dict, grid: dict, *, train=None, teacher_train=None, resources=None) -> Path:
    """The smoke sweep with ``grid``, student/teacher train settings and resources overridden."""
    smoke = {**smoke, "name": "slurm", "grid": grid}
    smoke["base"]["train"].update(train or {})
    smoke["base"]["resources"] = {**RESOURCES, **(resources or {})}
    smoke["teachers"]["frcnn"]["train"].update(teacher_train or {})
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(smoke, sort_keys=False))
    return path


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "benchmark.cli", *map(str, args)]


def _run(sweep: Path, out: Path, *extra: str, executor: str = "slurm", timeout: float = 900):
    cmd = _cli("run", sweep, "--out", out, "--executor", executor, "--no-progress", *extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _launch(sweep: Path, out: Path, *extra: str) -> subprocess.Popen:
    """The launcher in the background (its output in ``<out>.log``)."""
    log = open(f"{out}.log", "w")  # noqa: SIM115 - the launcher writes to it until it ends
    cmd = _cli("run", sweep, "--out", out, "--executor", "slurm", "--no-progress", *extra)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _planned(out: Path, **match: object) -> list[Path]:
    """Record dirs of the planned runs whose plan.json entry matches ``match`` (role=..., method=...)."""
    entries = json.loads((out / "plan.json").read_text())["runs"]
    return [out / "runs" / e["run_id"] for e in entries if all(e[k] == v for k, v in match.items())]


def _wait(condition: Callable[[], object], timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc is None or proc.poll() is None, f"the launcher ended (status {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _job(record: Path) -> str:
    return read_job(record)["job_id"]


def _iteration(record: Path) -> int:
    return (RunRecord(record).read_status() or {}).get("iteration") or 0


def _scontrol(job_id: str) -> dict[str, str]:
    """``scontrol show job -o JOB`` as a dict (jobs stay visible there for MinJobAge, 300 s, after they end)."""
    line = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True).stdout
    return dict(field.split("=", 1) for field in line.splitlines()[0].split() if "=" in field)


def _sacct(job_ids: list[str]) -> dict[str, dict[str, str]]:
    """JobID -> State, Submit, Start, End (array tasks one by one) from the cluster's accounting."""
    mains = ",".join(sorted({j.split("_")[0] for j in job_ids}))
    cmd = ["sacct", "-n", "-P", "-X", "-o", "JobID,State,Submit,Start,End", "-j", mains]
    rows = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    table = {}
    for row in rows:
        jid, state, submit, start, end = row.split("|")
        table[jid] = {"State": state, "Submit": submit, "Start": start, "End": end}
    return table


ACCOUNTING_LAG_S = 5  # see test_teacher_then_students_as_dependent_jobs_and_status_shows_them


def _epoch(stamp: str) -> float:
    """A ``sacct`` time stamp (local time, 1 s resolution) as seconds since the epoch."""
    return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S"))


def _weights(record: Path) -> dict[str, torch.Tensor]:
    return torch.load(RunRecord(record).final_weights, map_location="cpu", weights_only=True)["model"]


def _losses(record: Path) -> list[float]:
    return [row["loss"] for row in RunRecord(record).read_metrics().curves["train"]]


def test_teacher_then_students_as_dependent_jobs_and_status_shows_them(tmp_path, smoke_dict, slurm_cluster):
    sweep = _sweep(tmp_path, smoke_dict, {"distill.method": ["mimic"], "seed": [0, 1]})
    out = tmp_path / "out"
    _ok(_run(sweep, out))
    (teacher,) = _planned(out, role="teacher")
    students = _planned(out, role="student")
    caches = sorted((out / "cache" / "nodes").iterdir())
    assert len(students) == 2 and len(caches) == 1
    jobs = {d: _job(d) for d in [teacher, *caches, *students]}
    acct = _sacct(list(jobs.values()))
    assert all(acct[j]["State"] == "COMPLETED" for j in jobs.values()), acct
    # the cache node was submitted once the teacher's job had ended, the students once the cache node's had.
    # Slurm stamps End when the job's processes and epilogue are done, up to a few seconds after the job's
    # last write, while the launcher submits on that write (the record saying done): seen 1 s apart in a run.
    assert _epoch(acct[jobs[caches[0]]]["Submit"]) >= _epoch(acct[jobs[teacher]]["End"]) - ACCOUNTING_LAG_S
    for student in students:
        assert _epoch(acct[jobs[student]]["Submit"]) >= _epoch(acct[jobs[caches[0]]]["End"]) - ACCOUNTING_LAG_S
        assert RunRecord(student).is_done()
        starts = [a["t"] for a in read_attempts(student) if a["event"] == "start"]
        assert min(starts) > max(a["t"] for a in read_attempts(teacher) if a["event"] == "end")

    status = _ok(subprocess.run(_cli("status", out), capture_output=True, text=True))
    lines = status.splitlines()
    for record, job in jobs.items():
        assert any(job in ln and "COMPLETED" in ln and record.name in ln for ln in lines), status


def test_requeue_mid_training_resumes_and_ends_like_an_uninterrupted_run(tmp_path, smoke_dict, slurm_cluster):
    train = {"iterations": 120, "log_every": 5, "checkpoint_every": 10}
    sweep = _sweep(tmp_path, smoke_dict, {"distill.method": ["none"]}, train=train)
    _ok(_run(sweep, tmp_path / "local", executor="local"))
    (reference,) = _planned(tmp_path / "local")

    out = tmp_path / "out"
    launcher = _launch(sweep, out)
    _wait(lambda: (out / "plan.json").exists() and _planned(out), 120, "the plan", launcher)
    (record,) = _planned(out)
    _wait(lambda: read_job(record) and _iteration(record) >= 20, 300, "iteration 20", launcher)
    assert _iteration(record) < 120
    job = _job(record)
    subprocess.run(["scontrol", "requeue", job], check=True)
    assert launcher.wait(timeout=600) == 0, Path(f"{out}.log").read_text()

    assert _scontrol(job)["Restarts"] == "1"
    log = RunRecord(record).read_log()
    assert "stopped by signal" in log and "resumed from" in log, log
    assert [a["event"] for a in read_attempts(record)] == ["start", "end", "start", "end"]
    assert read_attempts(record)[1]["stopped"] is True
    a, b = _weights(reference), _weights(record)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert RunRecord(record).read_metrics().final == RunRecord(reference).read_metrics().final
    assert _losses(record) == _losses(reference)


def test_time_limit_warning_checkpoints_and_requeues_to_completion(tmp_path, smoke_dict, slurm_cluster):
    # 1000 iterations (about 60 s of training alone) under a 1-minute limit: submitit's USR2 is asked for 15 s
    # before the limit (signal_delay) and comes 15 to 45 s into each attempt (slurmctld checks every 30 s)
    train = {"iterations": 1000, "log_every": 50, "checkpoint_every": 500}
    sweep = _sweep(tmp_path, smoke_dict, {"distill.method": ["none"]}, train=train, resources={"time_min": 1})
    out = tmp_path / "out"
    _ok(_run(sweep, out, timeout=1500))
    (record,) = _planned(out)
    job = _job(record)
    info = _scontrol(job)
    restarts = int(info["Restarts"])
    assert info["TimeLimit"] == "00:01:00" and restarts >= 1, info
    assert _sacct([job])[job]["State"] == "COMPLETED"
    status = RunRecord(record).read_status()
    assert status["state"] == "done" and status["iteration"] == 1000
    log = RunRecord(record).read_log()
    stops = log.count("stopped by signal")
    assert stops == log.count("resumed from") >= 1, log
    # a warning that comes as the trainer finishes requeues once more (the run is done: that attempt ends at once)
    late = log.count("warning signal after the run finished")
    assert late <= 1 and restarts == stops + late, (restarts, log)
    submitit_log = "".join(p.read_text() for p in sorted((out / "slurm").glob(f"{job}_*_log.*")))
    assert submitit_log.count("this job is timed-out") >= 1, submitit_log
    # each warning: checkpoint (the trainer stopped and saved last.pt), then submitit's own requeue
    assert submitit_log.count("Calling checkpoint method") == submitit_log.count("Requeued job") == restarts


def test_scancel_fails_the_run_and_its_dependents_and_the_others_finish(tmp_path, smoke_dict, slurm_cluster):
    teacher_train = {"iterations": 400, "log_every": 5, "checkpoint_every": 100}
    sweep = _sweep(tmp_path, smoke_dict, {"distill.method": ["none", "mimic"]}, teacher_train=teacher_train)
    out = tmp_path / "out"
    launcher = _launch(sweep, out)
    _wait(lambda: (out / "plan.json").exists(), 120, "the plan", launcher)
    (teacher,) = _planned(out, role="teacher")
    _wait(lambda: read_job(teacher) and _iteration(teacher) >= 5, 300, "the teacher's iteration 5", launcher)
    job = _job(teacher)
    subprocess.run(["scancel", job], check=True)
    assert launcher.wait(timeout=600) == 1, Path(f"{out}.log").read_text()

    status = RunRecord(teacher).read_status()
    assert status["state"] == "failed" and status["reason"] == f"cancelled by Slurm (job {job})", status
    (mimic,) = _planned(out, method="mimic")
    assert RunRecord(mimic).read_status()["reason"] == f"dependency {teacher.name} failed"
    assert not (mimic / "slurm_job.json").exists()  # never submitted
    (plain,) = _planned(out, method="none", role="student")
    assert RunRecord(plain).is_done()
    status = _ok(subprocess.run(_cli("status", out), capture_output=True, text=True))
    assert any(job in ln and "CANCELLED" in ln for ln in status.splitlines()), status

    # nothing lost: --retry-failed resumes the cancelled teacher from its last.pt and trains its dependents
    _ok(_run(sweep, out, "--retry-failed"))
    assert "resumed from" in RunRecord(teacher).read_log()
    assert all(RunRecord(r).is_done() for r in _planned(out))


def test_relaunch_after_sigkill_follows_the_live_jobs(tmp_path, smoke_dict, slurm_cluster):
    grid = {"distill.method": ["none"], "seed": [0, 1, 2]}
    sweep = _sweep(tmp_path, smoke_dict, grid, train={"iterations": 60, "log_every": 5, "checkpoint_every": 20})
    out = tmp_path / "out"
    launcher = _launch(sweep, out, "--workers", "1")  # one array, one task at a time: one running, two pending
    _wait(lambda: (out / "plan.json").exists(), 120, "the plan", launcher)
    records = _planned(out)
    _wait(lambda: all(read_job(r) for r in records) and any(_iteration(r) >= 1 for r in records), 300, "training")
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()
    status = _ok(subprocess.run(_cli("status", out), capture_output=True, text=True))
    jobs = {r: _job(r) for r in records}
    assert len({j.split("_")[0] for j in jobs.values()}) == 1  # one array
    assert "PENDING" in status and "RUNNING" in status, status

    relaunch = _ok(_run(sweep, out, "--workers", "1"))
    assert "following its Slurm job" in relaunch, relaunch
    acct = _sacct(list(jobs.values()))
    assert sorted(acct) == sorted(jobs.values()), acct  # nothing submitted again
    assert all(row["State"] == "COMPLETED" for row in acct.values()), acct
    for record in records:
        assert RunRecord(record).is_done()
        assert [a["event"] for a in read_attempts(record)] == ["start", "end"]  # trained once
        assert "resumed from" not in RunRecord(record).read_log()
        assert _job(record) == jobs[record]


def test_two_task_ddp_run_equals_the_local_two_process_run(tmp_path, smoke_dict, slurm_cluster):
    train = {"processes": 2, "batch_size": 4, "device": "cpu", "iterations": 8, "log_every": 2, "checkpoint_every": 4}
    sweep = _sweep(tmp_path, smoke_dict, {"distill.method": ["none"]}, train=train)
    _ok(_run(sweep, tmp_path / "local", executor="local"))
    (local,) = _planned(tmp_path / "local")
    out = tmp_path / "out"
    _ok(_run(sweep, out))
    (record,) = _planned(out)
    assert local.name == record.name
    assert "torch.distributed.run" in (local / "worker.log").read_text()
    assert "torch.distributed.run" not in (record / "worker.log").read_text()  # Slurm started the 2 ranks
    assert (record / "worker.rank1.log").exists() and (record / "log.rank1.txt").exists()
    info = _scontrol(_job(record))
    assert info["NumTasks"] == "2" and info["NumNodes"] == "1", info
    assert RunRecord(record).read_env()["processes"] == 2
    # tests/run/test_distributed.py allows 2 processes a tolerance against 1; 2 Slurm tasks against 2 torchrun
    # processes (gloo, one thread each) agree exactly (measured), so that is what is asserted
    a, b = _weights(local), _weights(record)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert RunRecord(record).read_metrics().final == RunRecord(local).read_metrics().final
    assert _losses(record) == _losses(local)


def test_resource_requests_reach_sbatch(tmp_path, smoke_dict, slurm_cluster):
    resources = {"cpus": 2, "mem_gb": 1, "time_min": 7, "partition": "debug"}
    sweep = _sweep(tmp_path, smoke_dict, {"distill.method": ["none"], "seed": [0, 1, 2]}, resources=resources)
    out = tmp_path / "out"
    _ok(_run(sweep, out, "--workers", "2"))
    jobs = [_job(r) for r in _planned(out)]
    assert len({j.split("_")[0] for j in jobs}) == 1  # one array of 3
    for job in jobs:
        info = _scontrol(job)
        assert info["NumCPUs"] == "2" and info["CPUs/Task"] == "2", info
        assert info["MinMemoryNode"] == "1G" and info["TimeLimit"] == "00:07:00" and info["Partition"] == "debug"
        assert info["ArrayTaskThrottle"] == "2", info
        assert info["JobName"] == "dfmsd-slurm", info
