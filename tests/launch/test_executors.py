"""The Slurm path through submitit's local executor, the pieces the real cluster's signals rely on, and the
local pool's environment (the real one-node cluster: test_slurm_cluster.py)."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from benchmark.launch.executors import LocalExecutor, RunJob, SlurmExecutor, gpus_needed, signal_delay, worker_env
from benchmark.launch.plan import build_plan
from benchmark.launch.scheduler import execute, run_dir
from benchmark.launch.slurm_jobs import job_states, read_job, write_job
from benchmark.launch.spec import sweep_from_dict
from benchmark.launch.worker import read_attempts, run_one, stop_trainer
from benchmark.run.record import RunRecord

# a trainer that records its pid, marks the run running and, on SIGTERM, exits 143 as benchmark.run.train does
STOPPABLE_TRAINER = (
    sys.executable,
    "-c",
    "import signal, sys, time\n"
    "from pathlib import Path\n"
    "from benchmark.run.record import RunRecord\n"
    "RunRecord(sys.argv[2]).mark_running(total_iterations=9)\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))\n"
    "Path(sys.argv[2], 'pid').write_text(str(__import__('os').getpid()))\n"
    "while True: time.sleep(0.05)\n",
)

submitit = pytest.importorskip("submitit")


def test_submitit_local_executor_runs_the_sweep(tmp_path, smoke_dict, fake_trainer):
    plan = build_plan(sweep_from_dict(smoke_dict, "smoke.yaml", ["resources.cpus=1", "resources.time_min=5"]))
    ex = SlurmExecutor(tmp_path / "runs", tmp_path / "slurm", cluster="local", trainer=fake_trainer, poll_interval=0.2)
    result = execute(plan, tmp_path, ex, progress=False)
    assert result.ok and set(result.done) == set(plan.runs)
    for rid in plan.runs:
        assert RunRecord(run_dir(tmp_path, rid)).is_done()
        assert len((run_dir(tmp_path, rid) / "fake_trained.log").read_text().splitlines()) == 1
    assert any((tmp_path / "slurm").iterdir())  # submitit's job folders


def test_slurm_parameters_come_from_resources(tmp_path, smoke_dict):
    smoke_dict["base"]["resources"] = {"gpus": 2, "cpus": 8, "mem_gb": 32, "time_min": 90, "partition": "gpu"}
    plan = build_plan(sweep_from_dict(smoke_dict, "smoke.yaml"))
    ex = SlurmExecutor(tmp_path / "runs", tmp_path / "slurm", cluster="local", max_parallel=4)
    params = ex.parameters(next(iter(plan.runs.values())))
    assert params["gpus_per_node"] == 2 and params["cpus_per_task"] == 8 and params["mem_gb"] == 32
    assert params["timeout_min"] == 90 and params["slurm_partition"] == "gpu"
    assert params["slurm_array_parallelism"] == 4
    assert params["slurm_signal_delay_s"] == 90


def test_warning_signal_never_comes_in_the_first_quarter_of_a_job():
    # slurmctld signals at its first 30-s check within delay + 30 s of the limit
    assert [signal_delay(m) for m in (1, 2, 3, 600)] == [15, 60, 90, 90]
    assert all(signal_delay(m) + 30 <= 0.75 * m * 60 for m in range(1, 100))


def test_run_job_is_requeued_on_preemption():
    job = RunJob("/r/x", "/r", ["python", "-m", "benchmark.run.train"], 2)
    assert isinstance(job, submitit.helpers.Checkpointable)
    again = job.checkpoint()
    assert isinstance(again, submitit.helpers.DelayedSubmission) and again.function is job


def test_a_warning_after_the_run_finished_requeues_once_and_says_so(tmp_path):
    RunRecord(tmp_path).mark_done()
    job = RunJob(str(tmp_path), str(tmp_path.parent), ["python", "-m", "benchmark.run.train"], 1)
    again = job.checkpoint()
    assert isinstance(again, submitit.helpers.DelayedSubmission) and again.function is job
    assert RunRecord(tmp_path).read_log().count("warning signal after the run finished") == 1
    assert job() == 0 and read_attempts(tmp_path) == []  # the requeued attempt: done, ends at once


def test_stop_trainer_waits_until_the_trainer_stopped_and_the_run_stays_resumable(tmp_path):
    ended = {}
    worker = threading.Thread(
        target=lambda: ended.update(rc=run_one(tmp_path, tmp_path, trainer=STOPPABLE_TRAINER, ignore=[signal.SIGUSR2]))
    )
    worker.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / "pid").exists():
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.05)
    pid = int((tmp_path / "pid").read_text())
    os.kill(pid, signal.SIGUSR2)  # the cluster's warning signal reaches the trainer too: ignored
    time.sleep(0.3)
    assert worker.is_alive()
    assert stop_trainer(tmp_path, timeout=30)
    worker.join(timeout=30)
    assert ended["rc"] == 1 and RunRecord(tmp_path).state == "running"  # stopped, not failed: resumable
    assert read_attempts(tmp_path)[-1] | {"rc": 143, "stopped": True} == read_attempts(tmp_path)[-1]
    assert stop_trainer(tmp_path, timeout=1)  # nothing runs any more


def test_job_id_file_and_sacct_states(tmp_path, monkeypatch):
    write_job(tmp_path, "12_1", tasks=2)
    assert read_job(tmp_path) | {"job_id": "12_1", "tasks": 2} == read_job(tmp_path)
    fake = tmp_path / "bin" / "sacct"  # a pending array's rest is one sacct row with a range
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho '12_0|COMPLETED'; echo '12_[1-2%1]|PENDING'; echo '13|CANCELLED by 0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    states = job_states(["12_1", "13"])
    assert states == {"12_0": "COMPLETED", "12_1": "PENDING", "12_2": "PENDING", "13": "CANCELLED"}
    fake.write_text("#!/bin/sh\necho 'sacct: error: Slurm accounting storage is disabled' >&2; exit 1\n")
    assert job_states(["12_1"]) == {}


def test_worker_env_threads_and_gpus(smoke_dict):
    run = next(iter(build_plan(sweep_from_dict(smoke_dict, "smoke.yaml")).runs.values()))
    env = worker_env(run, ["3"], base={})
    assert env["OMP_NUM_THREADS"] == "1" and env["CUDA_VISIBLE_DEVICES"] == "3"
    assert "CUDA_VISIBLE_DEVICES" not in worker_env(run, None, base={})
    assert gpus_needed(run, 0) == 0 and gpus_needed(run, 2) == 1
    with pytest.raises(ValueError):
        LocalExecutor(Path("/tmp"), workers=0)
