"""sweeps/quickstart/*.yaml are the quickstart's configs: same run ids, teacher dependency resolves."""

from __future__ import annotations

from pathlib import Path

from benchmark.commands.train import load_run_config
from benchmark.config import teacher_run_config
from benchmark.launch.quickstart import quickstart_configs

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps" / "quickstart"


def test_yaml_files_match_the_quickstart():
    teacher, students = quickstart_configs()
    assert load_run_config(SWEEPS / "teacher.yaml").run_id() == teacher.run_id()
    for s in students:
        assert load_run_config(SWEEPS / f"student_{s.distill.method}.yaml").run_id() == s.run_id()
    mimic = next(s for s in students if s.distill.method == "mimic")
    assert teacher_run_config(mimic, mimic.distill.teacher).run_id() == teacher.run_id()
    assert teacher.name.startswith("teacher-") and teacher.train.optimizer == "sgd" and teacher.train.lr == 0.02
    assert teacher.train.warmup_iters == 100 and teacher.train.milestones == (0.75,)


def test_seed_changes_students_not_the_teacher():
    t0, s0 = quickstart_configs(seed=0)
    t1, s1 = quickstart_configs(seed=1)
    assert t0.run_id() == t1.run_id()
    assert {s.run_id() for s in s0}.isdisjoint({s.run_id() for s in s1})
