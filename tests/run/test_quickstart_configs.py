"""sweeps/quickstart/*.yaml are the quickstart's configs: same run ids, teacher dependency resolves.
``UPDATE_GOLDEN=1`` rewrites them from benchmark/launch/quickstart.py (after a deliberate recipe change)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from benchmark.commands.train import load_run_config
from benchmark.config import teacher_run_config
from benchmark.launch.quickstart import TEACHER_LR, quickstart_configs
from benchmark.run.resolve import run_id

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps" / "quickstart"
HEADER = (
    "# Generated from benchmark/launch/quickstart.py (tests/run/test_quickstart_configs.py checks they agree;\n"
    "# UPDATE_GOLDEN=1 regenerates them).\n"
    "# Train with: dfmsd-bench train sweeps/quickstart/{file} [--out DIR] [key=value ...]\n"
)
WHAT = {
    "teacher.yaml": "# The quickstart teacher run (what distill.teacher of the students points at).\n",
    "student_none.yaml": "# The quickstart student, method none.\n",
    "student_mimic.yaml": "# The quickstart student, method mimic.\n",
    "student_dfmsd.yaml": "# The quickstart student, method dfmsd (stage-wise with one teacher, S-b).\n",
}


def test_yaml_files_match_the_quickstart():
    teacher, students = quickstart_configs()
    files = {"teacher.yaml": teacher, **{f"student_{s.distill.method}.yaml": s for s in students}}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        for name, cfg in files.items():
            body = yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=False)
            (SWEEPS / name).write_text(HEADER.format(file=name) + WHAT[name] + body)
    for name, cfg in files.items():
        assert run_id(load_run_config(SWEEPS / name)) == run_id(cfg), name
    mimic = next(s for s in students if s.distill.method == "mimic")
    assert run_id(teacher_run_config(mimic, mimic.distill.teacher)) == run_id(teacher)
    assert teacher.role == "teacher" and teacher.train.optimizer == "sgd" and teacher.train.lr == TEACHER_LR == 0.0025
    assert teacher.train.warmup_iters == 100 and teacher.train.milestones == (0.75,)


def test_seed_changes_students_not_the_teacher():
    t0, s0 = quickstart_configs(seed=0)
    t1, s1 = quickstart_configs(seed=1)
    assert run_id(t0) == run_id(t1)
    assert {run_id(s) for s in s0}.isdisjoint({run_id(s) for s in s1})
