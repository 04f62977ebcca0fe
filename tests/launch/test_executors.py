"""The Slurm path through submitit's local executor, and the local pool's environment."""

from pathlib import Path

import pytest

from benchmark.launch.executors import LocalExecutor, RunJob, SlurmExecutor, gpus_needed, worker_env
from benchmark.launch.plan import build_plan
from benchmark.launch.scheduler import execute, run_dir
from benchmark.launch.spec import sweep_from_dict
from benchmark.run.record import RunRecord

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


def test_run_job_is_requeued_on_preemption():
    job = RunJob("/r/x", "/r", ["python", "-m", "benchmark.run.train"], 2)
    assert isinstance(job, submitit.helpers.Checkpointable)
    again = job.checkpoint()
    assert isinstance(again, submitit.helpers.DelayedSubmission) and again.function is job


def test_worker_env_threads_and_gpus(smoke_dict):
    run = next(iter(build_plan(sweep_from_dict(smoke_dict, "smoke.yaml")).runs.values()))
    env = worker_env(run, ["3"], base={})
    assert env["OMP_NUM_THREADS"] == "1" and env["CUDA_VISIBLE_DEVICES"] == "3"
    assert "CUDA_VISIBLE_DEVICES" not in worker_env(run, None, base={})
    assert gpus_needed(run, 0) == 0 and gpus_needed(run, 2) == 1
    with pytest.raises(ValueError):
        LocalExecutor(Path("/tmp"), workers=0)
