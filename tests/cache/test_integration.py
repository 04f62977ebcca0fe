"""The trainer reads teacher features from the cache (same losses as live); ``dfmsd-bench bench`` in reduced form."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from benchmark.bench.run import format_report, run_bench
from benchmark.bench.steps import StepSetting
from benchmark.config import TeacherConfig, TrackingConfig, TrainConfig
from benchmark.errors import UserError
from benchmark.run.resolve import run_id
from benchmark.run.train import train_run

from .conftest import TEACHER, run_config


def _run(tmp_path, teacher_weights, cache: str):
    cfg = run_config(teacher_cache=cache)
    train = TrainConfig(iterations=3, batch_size=2, optimizer="adamw", lr=1e-3, warmup_iters=1, log_every=1)
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(train, num_threads=1, checkpoint_every=3),
        distill=dataclasses.replace(cfg.distill, teacher=TeacherConfig(model=TEACHER, checkpoint=str(teacher_weights))),
        tracking=TrackingConfig(wandb=False),
    )
    out = tmp_path / cache
    metrics = train_run(cfg, out / "runs" / run_id(cfg), progress=False, no_wandb=True)
    return metrics, (out / "runs" / run_id(cfg) / "log.txt").read_text()


def test_trainer_with_cache_matches_live_teacher(tmp_path, teacher_weights):
    live, live_log = _run(tmp_path, teacher_weights, "off")
    cached, cached_log = _run(tmp_path, teacher_weights, "auto")
    assert "teacher features: live teacher" in live_log and "distill.teacher_cache is off" in live_log
    assert "teacher features: cache " in cached_log and ": built 16 entries" in cached_log
    assert list((tmp_path / "auto" / "cache").glob("teacher-*/COMPLETE"))
    rows_live, rows_cached = live.curves["train"], cached.curves["train"]
    assert len(rows_live) == len(rows_cached) == 3
    for a, b in zip(rows_live, rows_cached):
        assert b["kd"] == pytest.approx(a["kd"], rel=1e-5) and b["loss"] == pytest.approx(a["loss"], rel=1e-5)


def test_bench_reduced_form_runs_and_reports(tmp_path):
    st = StepSetting(input_size=64, images=4, warmup=0, rounds=2, threads=1)
    result = run_bench(
        quick=True, methods=["mimic"], sections=["steps"], threads=1, step_setting=st, echo=lambda s: None
    )
    r = result["steps"]["methods"]["mimic"]
    assert r["cache_used"] and set(r["times_s"]) == {"teacher", "plain", "live", "cached", "loss"}
    assert r["live_ratio"]["n"] == 2 and r["cached_ratio"]["median"] > 0
    assert r["loss_effect"]["fp32_rel"] < 1e-5 and r["loss_effect"]["fp16_rel"] < 1e-2
    text = format_report(result)
    assert "live/(teacher+plain) <= 1.10" in text and "cached/plain <= 1.05" in text and "mimic" in text
    json.dumps(result)  # JSON-ready


@pytest.mark.slow
def test_bench_loss_and_harness_sections_quick():
    result = run_bench(quick=True, sections=["losses", "harness"], threads=1, echo=lambda s: None)
    assert "missing" not in result["losses"] and "missing" not in result["harness"], result
    assert result["losses"]["cases"]["loss/dfmsd"]["vs"] == "loss/fgd"
    assert 0 < result["harness"]["utilization"] <= 1 and result["harness"]["relaunch_trained"] == 0
    text = format_report(result)
    assert "loss forward+backward" in text and "scheduler utilisation, smoke, 1 seed(s)" in text


def test_bench_command_rejects_bad_arguments():
    from benchmark.commands.bench import main

    base = {"quick": True, "out": None, "methods": "", "only": "", "device": "cpu", "threads": 1}
    with pytest.raises(UserError, match="--methods: unknown or teacher-less"):
        main(argparse.Namespace(**{**base, "methods": "none"}))
    with pytest.raises(UserError, match="--only: unknown section"):
        main(argparse.Namespace(**{**base, "only": "gpu"}))
