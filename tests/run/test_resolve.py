"""The resolved run: the run id hashes resolved values (defaults, presets, builder defaults), the record holds
them, and a changed default changes exactly the ids of the runs it affects."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark.config import DistillConfig, ModelConfig, RunConfig, StageConfig, TeacherConfig
from benchmark.distill.methods import METHODS
from benchmark.run import resolve as resolve_module
from benchmark.run.resolve import resolve, run_id


def run(method="dfmsd", options=None, stages=(), **kw):
    teacher = None if method == "none" else TeacherConfig()
    distill = DistillConfig(method=method, teacher=teacher, options=options or {}, stages=stages)
    return dataclasses.replace(RunConfig(), distill=distill, **kw)


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(resolve_module, "_CACHE", {})


def test_spelled_out_defaults_keep_the_id():
    plain = run_id(run())
    assert run_id(run(options={"dual": "both", "alpha": 3.0})) == plain  # method defaults
    assert run_id(run(options={"alpha": 3})) == plain  # numbers by value
    assert run_id(run(options={"ratio_spatial": 0.65})) == plain  # the one-stage preset's value
    assert run_id(run(options={"tau": 1.0})) == plain  # a constructor default
    assert run_id(run(options={"dual": "spatial"})) != plain
    assert run_id(run(options={"ratio_spatial": 0.45})) != plain
    stage = StageConfig(teacher=TeacherConfig(), options={"gamma": 0.0}, fraction=1.0)
    assert run_id(run(options={"gamma": 1.0}, stages=(stage,))) == run_id(run(stages=(stage,)))  # stage wins
    model = ModelConfig(name="retinanet_mnv2_fpn64", options={"fpn_channels": 64})
    assert run_id(run(model=model)) == plain  # a builder default spelled out


def test_run_id_ignores_what_does_not_change_the_result():
    plain = run()
    ids = {
        run_id(plain),
        run_id(dataclasses.replace(plain, name="x", role="student")),
        run_id(dataclasses.replace(plain, distill=dataclasses.replace(plain.distill, teacher_cache="off"))),
        run_id(dataclasses.replace(plain, distill=dataclasses.replace(plain.distill, min_teacher_map=None))),
        run_id(dataclasses.replace(plain, train=dataclasses.replace(plain.train, diverge_factor=None))),
        run_id(dataclasses.replace(plain, train=dataclasses.replace(plain.train, checkpoint_every=7))),
    }
    assert len(ids) == 1
    assert run_id(dataclasses.replace(plain, train=dataclasses.replace(plain.train, lr=0.1))) not in ids


def test_a_changed_method_default_changes_exactly_the_affected_ids(monkeypatch, fresh_cache):
    runs = {m: run(method=m) for m in ("dfmsd", "dmkd", "fgd", "mimic", "none")}
    spelled = run(options={"alpha": 3.0})
    before = {m: run_id(r) for m, r in runs.items()}
    spelled_before = run_id(spelled)
    monkeypatch.setitem(METHODS.get("dfmsd").defaults, "alpha", 2.0)  # the code's default changes
    resolve_module._CACHE.clear()
    after = {m: run_id(r) for m, r in runs.items()}
    assert after["dfmsd"] != before["dfmsd"]
    assert {m: after[m] for m in after if m != "dfmsd"} == {m: before[m] for m in before if m != "dfmsd"}
    assert run_id(spelled) == spelled_before  # it spelled out the old value: it still computes that


def test_a_changed_teacher_recipe_changes_the_student_id(fresh_cache):
    student = run(method="mimic")
    other = dataclasses.replace(
        student,
        distill=dataclasses.replace(
            student.distill, teacher=TeacherConfig(train=dataclasses.replace(TeacherConfig().train, lr=0.005))
        ),
    )
    assert resolve(student).stages[0].teacher_run != resolve(other).stages[0].teacher_run
    assert run_id(student) != run_id(other)


def test_resolved_object_holds_every_option_per_stage():
    stages = tuple(StageConfig(teacher=TeacherConfig(), fraction=0.5, options={"gamma": g}) for g in (0.0, 1.0))
    resolved = resolve(run(stages=stages))
    assert [s.options["gamma"] for s in resolved.stages] == [0.0, 1.0]
    assert set(resolved.stages[0].options) == METHODS.get("dfmsd").accepted_options()
    assert [(s.start, s.end) for s in resolved.stages] == [(0, 200), (200, 400)]
    assert resolved.stages[0].teacher_run == resolve(resolved.config).stages[1].teacher_run
    assert resolved.model_options["fpn_channels"] == 64 and resolved.role == "student"
    data = resolved.to_dict()
    assert data["run_id"] == resolved.run_id and data["stages"][1]["options"]["gamma"] == 1.0
    none = resolve(run(method="none"))
    assert none.stages == () and none.options == {} and none.base_key == resolved.base_key
    assert none.config_key != resolved.config_key
    assert resolve(run(method="none", seed=1)).config_key == none.config_key
