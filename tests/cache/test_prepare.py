"""The cache-build node (``python -m benchmark.launch.cache_node``): built once under concurrent starts; plan budget
lines."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from benchmark.config import DistillConfig, TeacherConfig
from benchmark.launch.cache_budget import cache_plan_lines, known_train_shapes
from benchmark.launch.cache_node import prepare_teacher_caches
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id

from .conftest import DATA, TEACHER, run_config

REPO = Path(__file__).resolve().parents[2]


def _student(teacher_weights, **distill):
    cfg = run_config(**distill)
    teacher = TeacherConfig(model=TEACHER, checkpoint=str(teacher_weights))
    return dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, teacher=teacher))


def test_concurrent_students_build_the_cache_once(teacher_weights, dataset, tmp_path):
    cfg = _student(teacher_weights)
    run_dir = tmp_path / "runs" / run_id(cfg)
    RunRecord(run_dir).write_config(cfg)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "benchmark.launch.cache_node", "--run-dir", str(run_dir), "--no-progress"]
    procs = [subprocess.Popen(cmd, env=env, cwd=REPO, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    text = "".join(outputs)
    assert text.count(": built ") == 1 and text.count("teacher features: cache ") == 2, text
    caches = list((tmp_path / "cache").glob("teacher-*/COMPLETE"))
    assert len(caches) == 1

    lines: list[str] = []
    assert prepare_teacher_caches(cfg, tmp_path / "runs", log=lines.append, progress=False) == 1
    assert len(lines) == 1 and lines[0].startswith("teacher features: cache ")


def test_plan_lines_state_the_disk_budget(teacher_weights, tmp_path):
    shapes = known_train_shapes(DATA)
    assert shapes == [(64, 64)] * DATA.synthetic_images
    students = [_student(teacher_weights), _student(teacher_weights, teacher_cache="off")]
    lines = cache_plan_lines([*students, dataclasses.replace(students[0], distill=DistillConfig())], tmp_path)
    assert lines[0].startswith("teacher-feature caches")
    # fp32, 16 channels, 64x64 input: p3 8x8, p4 4x4, p5 2x2, p6 1x1 cells -> 16*4*(64+16+4+1) = 5440 B
    assert "x 8 images x 2 transforms = 87.0 KB float32" in lines[1] and "p3 4.1 KB" in lines[1]
    assert "live teacher: distill.teacher_cache is off" in lines[2]
    assert lines[-1].startswith("teacher caches to build: 87.0 KB in all")


def test_plan_lines_count_a_stage_wise_run_once(teacher_weights, tmp_path):
    from benchmark.config import StageConfig

    cfg = _student(teacher_weights)
    stages = tuple(StageConfig(teacher=cfg.distill.teacher, fraction=0.5) for _ in range(2))  # S-b: one teacher
    staged = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, teacher=None, stages=stages))
    assert " for 1 student run(s): " in cache_plan_lines([staged], tmp_path)[1]
