"""The sweep file's ``teacher_check`` section: its problems, one line each, and the plan it makes (no mmdet needed;
the check itself runs in tests/mm/test_teacher_check.py)."""

from __future__ import annotations

import pytest
import torch

from benchmark.commands.plan import render_plan
from benchmark.config import ConfigError
from benchmark.launch.plan import build_plan
from benchmark.launch.spec import sweep_from_dict


@pytest.fixture
def checked(smoke_dict, tmp_path):
    ckpt = tmp_path / "frcnn.pt"
    torch.save({"state_dict": {}}, ckpt)  # validation reads checkpoints (weights only); planning needs no weights
    smoke_dict["teachers"]["frcnn"]["checkpoint"] = str(ckpt)
    smoke_dict["teacher_check"] = {"expected": {"frcnn": 12.5}, "images": 3}
    return smoke_dict


def test_check_nodes_in_the_plan(checked, tmp_path):
    plan = build_plan(sweep_from_dict(checked, "s.yaml"))
    (nid,) = plan.checks
    spec = plan.check_specs[nid]
    assert (spec.teacher, spec.expected, spec.tolerance, spec.images) == ("frcnn", 12.5, 0.5, 3)
    mimic = [r for r in plan.runs.values() if r.method == "mimic"]
    assert len(mimic) == 2 and all(nid in r.deps for r in mimic)
    assert all(nid not in r.deps for r in plan.runs.values() if r.method == "none")  # no teacher, no check
    assert plan.checks[nid].record_dir(tmp_path / "runs") == tmp_path / "cache" / "checks" / nid
    text = render_plan(plan, tmp_path)
    assert "+ 1 teacher-check node(s)" in text and "expected 12.5 ± 0.5" in text and "first 3 test images" in text


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"expected": {"nobody": 40.0}}, "teacher_check.expected.nobody: unknown teacher"),
        ({"expected": {"frcnn": 140.0}}, "teacher_check.expected.frcnn: expected a box AP in %"),
        ({"expected": {"frcnn": 40.0}, "tolerance": -1}, "teacher_check.tolerance: expected AP points >= 0"),
        ({"expected": {"frcnn": 40.0}, "images": 0}, "teacher_check.images: expected a number of test images"),
        ({"expected": {"frcnn": 40.0}, "subset": 5}, "teacher_check.subset: unknown key"),
        ({"tolerance": 1.0}, "teacher_check: expected a mapping with 'expected"),
    ],
)
def test_problems_name_the_key(checked, section, message):
    checked["teacher_check"] = section
    with pytest.raises(ConfigError) as err:
        sweep_from_dict(checked, "s.yaml")
    assert any(line.startswith(f"s.yaml: {message}") for line in err.value.problems), err.value.problems


def test_a_teacher_run_cannot_be_checked(smoke_dict):
    smoke_dict["teacher_check"] = {"expected": {"frcnn": 40.0}}  # frcnn is trained by the sweep: no checkpoint
    with pytest.raises(ConfigError, match="evaluates a checkpoint; this teacher has none"):
        sweep_from_dict(smoke_dict, "s.yaml")
