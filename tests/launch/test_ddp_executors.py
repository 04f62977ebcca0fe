"""A 2-process (gloo) run through both executors: the local pool (worker -> torchrun) and submitit's tasks."""

from __future__ import annotations

import pytest

from benchmark.launch.executors import LocalExecutor, SlurmExecutor
from benchmark.launch.plan import build_plan
from benchmark.launch.scheduler import execute, run_dir
from benchmark.launch.spec import sweep_from_dict
from benchmark.run.record import RunRecord

DDP = ["train.processes=2", "train.batch_size=4", "train.device=cpu", "resources.cpus=1", "resources.time_min=10"]


def _plan(smoke_dict):
    smoke_dict["grid"] = {"distill.method": ["none"]}
    return build_plan(sweep_from_dict(smoke_dict, "smoke.yaml", DDP))


def _check_ddp_record(out, plan):
    (rid,) = plan.runs
    record = RunRecord(run_dir(out, rid))
    assert record.is_done() and record.read_env()["processes"] == 2
    assert (record.dir / "log.rank1.txt").exists()
    assert record.read_metrics().final is not None
    return record


@pytest.mark.slow
def test_local_pool_starts_a_multi_process_run_with_torchrun(tmp_path, smoke_dict):
    plan = _plan(smoke_dict)
    result = execute(plan, tmp_path, LocalExecutor(tmp_path / "runs", workers=1, gpus=[]), progress=False)
    assert result.ok, result
    record = _check_ddp_record(tmp_path, plan)
    assert "torch.distributed.run" in (record.dir / "worker.log").read_text()


@pytest.mark.slow
def test_submitit_runs_a_multi_process_run_as_tasks(tmp_path, smoke_dict):
    pytest.importorskip("submitit")
    plan = _plan(smoke_dict)
    ex = SlurmExecutor(tmp_path / "runs", tmp_path / "slurm", cluster="local", poll_interval=0.2)
    assert ex.parameters(next(iter(plan.runs.values())))["tasks_per_node"] == 2
    result = execute(plan, tmp_path, ex, progress=False)
    assert result.ok, result
    record = _check_ddp_record(tmp_path, plan)
    assert (record.dir / "worker.rank1.log").exists()  # task 1 ran only its trainer
    assert "torch.distributed.run" not in (record.dir / "worker.log").read_text()
