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
