"""End to end on synthetic data: a teacher run, a student distilled from it, the record, W&B, the commands."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from benchmark.cli import main as cli_main
from benchmark.config import TeacherConfig, teacher_run_config
from benchmark.run.evaluate import METRIC_NAMES
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id
from benchmark.run.train import train_run

from .conftest import FRCNN, TRAIN

ENV_KEYS = {
    "python",
    "torch",
    "torchvision",
    "platform",
    "hostname",
    "device",
    "cpu",
    "cuda",
    "git_commit",
    "git_dirty",
    "started",
    "argv",
}


def _complete(record: RunRecord, role: str, method: str) -> dict:
    assert record.is_done()
    cfg = record.read_config()
    assert cfg["run_id"] == record.dir.name
    status = record.read_status()
    assert status["iteration"] == status["total_iterations"] and status["reason"] is None
    assert set(record.read_env()) >= ENV_KEYS
    metrics = record.read_metrics()
    assert metrics.run_id == record.dir.name and metrics.role == role and metrics.method == method
    assert set(metrics.final) == set(METRIC_NAMES)
    assert all(math.isfinite(v) for v in metrics.final.values())
    assert metrics.curves["train"][-1]["iter"] == status["total_iterations"]
    assert metrics.curves["eval"][-1]["mAP"] == metrics.final["mAP"] == metrics.best["mAP"]
    cost = metrics.cost
    assert cost.params > 0 and cost.step_time_s > 0 and cost.train_time_s > 0 and cost.infer_time_s > 0
    assert cost.kd_overhead is None
    final = torch.load(record.final_weights, weights_only=True)
    assert set(final) == {"model", "card", "options"} and final["options"] == cfg["model"]["options"]
    assert record.last_checkpoint.is_file() and "done" in record.read_log()
    return metrics


def test_teacher_run_then_distilled_student(tmp_path, make_run, capsys):
    runs = tmp_path / "runs"
    teacher = TeacherConfig(model=FRCNN, train=TRAIN, seed=0)
    student = make_run("mimic", teacher=teacher, wandb=True, eval_teacher=True)
    tcfg = teacher_run_config(student, teacher)

    t_metrics = train_run(tcfg, runs / run_id(tcfg), progress=False)
    _complete(RunRecord(runs / run_id(tcfg)), "teacher", "none")
    assert t_metrics.cost.teacher_time_s is None and t_metrics.teacher_final is None

    s_dir = runs / run_id(student)
    s_metrics = train_run(student, s_dir, progress=False)
    _complete(RunRecord(s_dir), "student", "mimic")
    assert s_metrics.teacher_final == t_metrics.final  # reused from the teacher's record
    assert s_metrics.cost.teacher_time_s > 0
    assert s_metrics.stages[0]["teacher_run"] == run_id(tcfg)
    assert s_metrics.stages[0]["teacher_weights_sha256"] == t_metrics.weights_sha256 is not None  # which teacher
    assert any(k.startswith("kd/mimic/") for k in s_metrics.curves["train"][0])
    wandb_runs = list((s_dir / "wandb").glob("offline-run-*"))
    assert wandb_runs and wandb_runs[0].name.endswith(run_id(student))

    # a done run is reported, not retrained
    attempt = RunRecord(s_dir).read_status()["attempt"]
    assert train_run(student, s_dir, progress=False) == s_metrics
    assert RunRecord(s_dir).read_status()["attempt"] == attempt

    # dfmsd-bench eval on the run directory reproduces the final numbers
    capsys.readouterr()
    assert cli_main(["eval", str(s_dir), "--json"]) == 0
    import json

    printed = json.loads(capsys.readouterr().out)
    assert printed["mAP"] == pytest.approx(s_metrics.final["mAP"], abs=1e-9)
    # ... and on a checkpoint file (model and options from it, data from the flags)
    assert cli_main(["eval", str(s_dir / "checkpoints" / "model_final.pt"), "--data", "synthetic"]) == 0
    assert "AR100" in capsys.readouterr().out
    assert cli_main(["eval", str(s_dir / "checkpoints" / "model_final.pt"), "--model", FRCNN.name]) == 2
    assert "does not fit" in capsys.readouterr().err


def test_train_command(tmp_path, make_run, capsys):
    cfg = make_run(iterations=2, log_every=1)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    out = tmp_path / "out"
    assert cli_main(["train", str(path), "--out", str(out), "--no-wandb", "--no-progress", "train.iterations=3"]) == 0
    text = capsys.readouterr().out
    run_dirs = list((out / "runs").iterdir())
    assert len(run_dirs) == 1 and str(run_dirs[0]) in text and "mAP" in text
    assert RunRecord(run_dirs[0]).load_config().train.iterations == 3
    # what a sweep executor runs: exit 0 iff done (already done here: nothing is retrained)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.run.train", "--run-dir", str(run_dirs[0]), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=300,
    )
    assert proc.returncode == 0 and "done, mAP" in proc.stdout, proc.stderr
    assert cli_main(["train", str(path), "--out", str(out), "train.optimizer=lion", "distill.method=fgd"]) == 2
    err = capsys.readouterr().err
    assert "run.yaml: train.optimizer: unknown optimizer 'lion'" in err
    assert "run.yaml: distill.method: method 'fgd' needs a teacher" in err
    assert len(list((out / "runs").iterdir())) == 1  # a bad config leaves no record behind
    assert cli_main(["train", str(path), "--out", str(out), "train.bogus=1"]) == 2
    assert "train.bogus: unknown key" in capsys.readouterr().err
    assert cli_main(["train", str(tmp_path / "missing.yaml")]) == 2
