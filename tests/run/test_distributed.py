"""Multi-process (DDP) training: sharding, launch, config checks, and real 2-process gloo runs on CPU."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from benchmark.config import ConfigError, TeacherConfig
from benchmark.launch.worker import _launcher
from benchmark.run.distributed import SINGLE, DistContext, init_distributed, shard
from benchmark.run.evaluate import evaluate
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id
from benchmark.run.torchrun import launch_command
from benchmark.run.train import train_run
from benchmark.run.validate import problems as run_problems

from .conftest import FRCNN

# 2 gloo processes vs 1 process, same config otherwise, on the tiny synthetic run below (measured: mAP 0.0002 vs
# 0.0001, logged losses within 0.4 %; the NEON comparison is in the issue-6 note)
TOLERANCE_MAP = 0.02  # absolute
TOLERANCE_LOSS = 0.02  # relative, every logged training-loss row


def test_shard_splits_a_global_batch_over_ranks():
    batch = [(3, False), (1, True), (4, False), (0, True)]
    parts = [shard(batch, DistContext(rank=r, world_size=2)) for r in range(2)]
    assert parts == [[(3, False), (4, False)], [(1, True), (0, True)]]
    assert shard(batch, SINGLE) == batch


def test_batch_must_split_evenly(make_run):
    assert any("global batch" in m for _, m in run_problems(make_run(batch_size=3, processes=2)))
    assert not run_problems(make_run(batch_size=4, processes=2))
    assert ("train.processes", "must be an integer in [1, 4_096], got 0") in run_problems(make_run(processes=0))


def test_multi_process_config_needs_a_distributed_launch(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(ConfigError, match="needs a distributed launch: .*torch.distributed.run"):
        init_distributed(2, torch.device("cpu"))
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="train.processes: 1, but launched with WORLD_SIZE=2"):
        init_distributed(1, torch.device("cpu"))
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(ConfigError, match="train.processes: 2, but launched with WORLD_SIZE=4"):
        init_distributed(2, torch.device("cpu"))
    monkeypatch.delenv("WORLD_SIZE")
    assert init_distributed(1, torch.device("cpu")) == (SINGLE, torch.device("cpu"))


def test_worker_launches_torchrun_for_several_processes(tmp_path, make_run):
    record = RunRecord(tmp_path)
    trainer = ("/py", "-m", "benchmark.run.train")
    record.write_config(make_run(processes=1))
    assert _launcher(trainer, record, {}) == list(trainer)
    record.write_config(make_run(processes=2))
    assert _launcher(trainer, record, {}) == launch_command(2, "benchmark.run.train", python="/py")
    assert _launcher(trainer, record, {"WORLD_SIZE": "2"}) == list(trainer)  # a Slurm task: launched already
    with pytest.raises(ValueError, match="needs a 'python -m MODULE' trainer"):
        _launcher(("/bin/true",), record, {})


# ---------------------------------------------------------------------------- real 2-process runs (gloo)


def _torchrun(run_dir, processes: int = 2) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [*launch_command(processes, "benchmark.run.train"), "--run-dir", str(run_dir), "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _ddp_run(make_run, teacher_ckpts, **train):
    teacher = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    train = {"iterations": 24, "batch_size": 4, "warmup_iters": 4, "checkpoint_every": 4, "log_every": 4, **train}
    cfg = make_run("mimic", teacher=teacher, device="cpu", **train)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, synthetic_images=16))


def _final_weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "model_final.pt", weights_only=True)["model"]


@pytest.mark.slow
def test_ddp_run_matches_single_process_and_resumes_exactly(tmp_path, make_run, teacher_ckpts):
    single_cfg = _ddp_run(make_run, teacher_ckpts)
    ddp_cfg = _ddp_run(make_run, teacher_ckpts, processes=2, num_workers=1)  # each rank with a data worker
    single = train_run(single_cfg, tmp_path / "single", progress=False)

    full = tmp_path / "ddp"
    RunRecord(full).write_config(ddp_cfg)
    proc = _torchrun(full)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    ddp = RunRecord(full).read_metrics()
    assert RunRecord(full).read_env()["processes"] == 2
    assert (full / "log.rank1.txt").exists() and not (full / "metrics.rank1.json").exists()

    # same recipe, same global batches: same metrics within the stated tolerance, the same loss curve within
    # TOLERANCE_LOSS (per-shard loss normalisation and the per-rank masks are what differ)
    assert abs(ddp.final["mAP"] - single.final["mAP"]) <= TOLERANCE_MAP, (ddp.final, single.final)
    curve = [(a["loss"], b["loss"]) for a, b in zip(single.curves["train"], ddp.curves["train"], strict=True)]
    assert all(b == pytest.approx(a, rel=TOLERANCE_LOSS) for a, b in curve), curve

    # the gathered evaluation equals a one-process evaluation of the same weights, exactly
    from benchmark.data import build_dataset
    from benchmark.zoo import build_detector

    test_set = build_dataset(ddp_cfg.data, "test", progress=False)
    model = build_detector(ddp_cfg.model, num_classes=test_set.num_classes)
    model.load_state_dict(_final_weights(full))
    metrics, _ = evaluate(model, test_set, ddp_cfg.eval, "cpu", progress=False)
    assert metrics == ddp.final

    # SIGTERM to torchrun mid-run: every rank stops at the same iteration, last.pt holds both ranks' RNG states,
    # and the relaunch ends with the uninterrupted run's weights, bit for bit
    cut = tmp_path / "cut"
    RunRecord(cut).write_config(ddp_cfg)
    proc = _torchrun(cut)
    deadline = time.monotonic() + 300
    while (RunRecord(cut).read_status() or {}).get("iteration", 0) < 8:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    status = RunRecord(cut).read_status()
    assert status["state"] == "running" and "stopped by signal" in status["reason"], (status, out)
    state = torch.load(cut / "checkpoints" / "last.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["ranks"]) == 2 and state["iteration"] < ddp_cfg.train.iterations
    proc = _torchrun(cut)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert "resumed from" in RunRecord(cut).read_log()
    a, b = _final_weights(full), _final_weights(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert RunRecord(cut).read_metrics().final == ddp.final


@pytest.mark.slow
def test_dfmsd_bench_train_launches_processes(tmp_path, make_run, teacher_ckpts):
    import yaml

    cfg = _ddp_run(make_run, teacher_ckpts, processes=2, iterations=4)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    cmd = [sys.executable, "-m", "benchmark.cli", "train", str(path), "--out", str(tmp_path / "out"), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "student: mAP" in done.stdout
    record = RunRecord(tmp_path / "out" / "runs" / run_id(cfg))
    assert record.is_done() and record.read_env()["processes"] == 2


def test_dfmsd_bench_train_stops_resumably_on_sigterm(tmp_path, make_run):
    import yaml

    cfg = make_run(iterations=400, checkpoint_every=400, log_every=1, device="cpu")
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    cmd = [sys.executable, "-m", "benchmark.cli", "train", str(path), "--out", str(tmp_path), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    record = RunRecord(tmp_path / "runs" / run_id(cfg))
    deadline = time.monotonic() + 120
    while (record.read_status() or {}).get("iteration", 0) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "stopped: stopped by signal" in out, out
    assert record.read_status()["state"] == "running" and record.last_checkpoint.is_file()


@pytest.mark.slow
def test_ddp_stage_wise_dfmsd_switches_stage_on_every_rank(tmp_path, make_run, teacher_ckpts):
    from benchmark.config import StageConfig

    teacher = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    stages = tuple(StageConfig(teacher=teacher, fraction=0.5, options={"gamma": g}) for g in (0.0, 1.0))
    cfg = make_run("dfmsd", stages=stages, device="cpu", processes=2, batch_size=4, iterations=4, checkpoint_every=4)
    run = tmp_path / "run"
    RunRecord(run).write_config(cfg)
    out, _ = _torchrun(run).communicate(timeout=600)
    record = RunRecord(run)
    assert record.is_done(), out
    assert (run / "checkpoints" / "stage0_end.pt").is_file()
    for log in (record.read_log(), (run / "log.rank1.txt").read_text()):
        assert "stage 1: method dfmsd" in log
