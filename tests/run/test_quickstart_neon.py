"""The quickstart end to end on real NEON tiles (4 training tiles, 3 iterations per run): slow."""

from __future__ import annotations

import math

import pytest

from benchmark.launch.quickstart import format_table, run_quickstart
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id

from .conftest import USER_CACHE


@pytest.mark.slow
def test_quickstart_on_neon_subset(tmp_path, monkeypatch):
    if USER_CACHE is None:
        monkeypatch.delenv("DFMSD_BENCH_CACHE", raising=False)
    else:
        monkeypatch.setenv("DFMSD_BENCH_CACHE", USER_CACHE)
    lines: list[str] = []
    result = run_quickstart(tmp_path, iterations=3, max_images=4, no_wandb=True, progress=False, echo=lines.append)
    assert result.ok
    teacher_cfg, teacher_metrics = result.teacher
    assert RunRecord(result.runs_root / run_id(teacher_cfg)).is_done()
    for cfg, metrics, error in result.students:
        assert error is None and RunRecord(result.runs_root / run_id(cfg)).is_done()
        assert all(math.isfinite(v) for v in metrics.final.values())
    mimic = next(m for c, m, _ in result.students if c.distill.method == "mimic")
    assert mimic.teacher_final == teacher_metrics.final
    table = format_table(result)
    assert "teacher faster_rcnn_mnv2_fpn256" in table and "student + mimic" in table and "Δ mAP" in table
    assert "student + dfmsd" in table

    # a second quickstart reuses every record
    lines.clear()
    again = run_quickstart(tmp_path, iterations=3, max_images=4, no_wandb=True, progress=False, echo=lines.append)
    assert any("done already, reused" in line for line in lines)
    assert [m for _, m, _ in again.students] == [m for _, m, _ in result.students]


@pytest.mark.slow
def test_quickstart_stops_at_a_teacher_below_its_gate(tmp_path, monkeypatch):
    """At the default schedule the quickstart gates its teacher (``WEAK_TEACHER_MAP``); a 3-iteration teacher
    stands in for a broken one: the quickstart stops with the teacher's run and mAP and what to do, and trains no
    student (so it never prints a distillation table from it)."""
    if USER_CACHE is None:
        monkeypatch.delenv("DFMSD_BENCH_CACHE", raising=False)
    else:
        monkeypatch.setenv("DFMSD_BENCH_CACHE", USER_CACHE)
    monkeypatch.setattr("benchmark.launch.quickstart.DEFAULT_ITERATIONS", 3)
    result = run_quickstart(tmp_path, iterations=3, max_images=4, no_wandb=True, progress=False, echo=lambda _: None)
    teacher_cfg, teacher_metrics = result.teacher
    tid = run_id(teacher_cfg)
    assert teacher_metrics.final["mAP"] < 0.03
    assert result.teacher_rejected.startswith(f"teacher run {tid} has test mAP {teacher_metrics.final['mAP']:.4f}")
    assert "below distill.min_teacher_map=0.03" in result.teacher_rejected
    assert f"delete {result.runs_root / tid} and run dfmsd-bench quickstart again" in result.teacher_rejected
    assert result.students == [] and not result.ok
    assert sorted(p.name for p in result.runs_root.iterdir()) == [tid]
