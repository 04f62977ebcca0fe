"""The trainer on tiny synthetic runs: resume bit-exactness, frozen teacher, non-finite loss, stage switch."""

from __future__ import annotations

import math
import re

import pytest
import torch

from benchmark.config import StageConfig, TeacherConfig
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id
from benchmark.run.train import NonFiniteLoss, RunFailed, RunStopped, Trainer, main, train_run

from .conftest import FRCNN, RETINA


def _weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "model_final.pt", weights_only=True)


def _assert_same_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa["card"] == wb["card"] and wa["model"].keys() == wb["model"].keys()
    for name, tensor in wa["model"].items():
        assert torch.equal(tensor, wb["model"][name]), name


def _curves(run_dir):
    return [
        {k: v for k, v in row.items() if k != "time_s"} for row in RunRecord(run_dir).read_metrics().curves["train"]
    ]


def test_resume_is_bit_exact(tmp_path, make_run, teacher_ckpts):
    cfg = make_run("mimic", teacher=TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"])), device="cpu")
    full = tmp_path / "full"
    train_run(cfg, full, progress=False)

    cut = tmp_path / "cut"
    with pytest.raises(RunStopped, match="at iteration 3"):
        train_run(cfg, cut, progress=False, stop_after=3)
    status = RunRecord(cut).read_status()
    assert status["state"] == "running" and "rerun to resume" in status["reason"] and status["iteration"] == 3
    from benchmark.launch.scheduler import run_state

    assert run_state(cut) == "interrupted"  # lock released: a relaunched sweep resumes it, not a failure
    assert not (cut / "checkpoints" / "model_final.pt").exists()
    metrics = train_run(cfg, cut, progress=False)
    assert RunRecord(cut).read_status()["attempt"] == 2
    assert "resumed from" in RunRecord(cut).read_log()
    _assert_same_weights(full, cut)
    assert _curves(full) == _curves(cut)
    assert metrics.final == RunRecord(full).read_metrics().final


def test_teacher_stays_frozen_through_a_step(tmp_path, make_run, teacher_ckpts):
    cfg = make_run("mimic", teacher=TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"])))
    trainer = Trainer(cfg, RunRecord(tmp_path), runs_root=tmp_path, progress=False)
    teacher_before = {k: v.clone() for k, v in trainer.teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in trainer.student.state_dict().items()}
    adapters_before = {k: v.clone() for k, v in trainer.criterion.state_dict().items()}
    optimised = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    values = trainer.step()
    assert trainer.iteration == 1 and math.isfinite(values["loss"]) and values["kd"] > 0
    assert not trainer.teacher.training
    assert all(not p.requires_grad and p.grad is None for p in trainer.teacher.parameters())
    assert not optimised & {id(p) for p in trainer.teacher.parameters()}
    assert all(torch.equal(v, teacher_before[k]) for k, v in trainer.teacher.state_dict().items())
    assert any(not torch.equal(v, student_before[k]) for k, v in trainer.student.state_dict().items())
    assert any(not torch.equal(v, adapters_before[k]) for k, v in trainer.criterion.state_dict().items())
    assert all(p.grad is not None for p in trainer.criterion.parameters())  # trained by the student optimiser
    assert any(k.startswith("kd/mimic/") for k in values)
    assert len(trainer.teacher_times) == 1 and len(trainer.step_times) == 1


def test_non_finite_loss_fails_the_run(tmp_path, make_run):
    cfg = make_run(optimizer="sgd", lr=10.0, warmup_iters=0, grad_clip=None, iterations=30, diverge_factor=None)
    with pytest.raises(NonFiniteLoss):
        train_run(cfg, tmp_path / "a", progress=False)
    status = RunRecord(tmp_path / "a").read_status()
    assert status["state"] == "failed"
    assert re.fullmatch(r"non-finite loss at iteration \d+ \(term .+\)", status["reason"]), status["reason"]
    # the module entry: same failure, non-zero exit
    RunRecord(tmp_path / "b").write_config(cfg)
    assert main(["--run-dir", str(tmp_path / "b"), "--no-progress"]) == 1
    assert RunRecord(tmp_path / "b").read_status()["reason"].startswith("non-finite loss at iteration")


def test_missing_teacher_run_is_a_clear_error(tmp_path, make_run):
    cfg = make_run("mimic", teacher=TeacherConfig(model=FRCNN))
    with pytest.raises(RunFailed, match=r"teacher run faster_rcnn_mnv2_fpn256-none-s0-\w+ is not done: run it first"):
        train_run(cfg, tmp_path / "runs" / run_id(cfg), progress=False)
    assert RunRecord(tmp_path / "runs" / run_id(cfg)).state == "failed"


def test_multi_process_run_started_as_one_process_says_how_to_launch(tmp_path, make_run, monkeypatch):
    from benchmark.config import ConfigError

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(ConfigError, match="needs a distributed launch"):
        train_run(make_run(processes=2), tmp_path, progress=False)
    assert not (tmp_path / "status.json").exists()


def test_stage_switch_and_resume_in_stage_two(tmp_path, make_run, teacher_ckpts):
    stages = (
        StageConfig(teacher=TeacherConfig(model=RETINA, checkpoint=str(teacher_ckpts["retina"])), fraction=0.5),
        StageConfig(
            teacher=TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"])),
            fraction=0.5,
            options={"loss_weight": 0.5},
        ),
    )
    cfg = make_run("mimic", stages=stages, iterations=4, checkpoint_every=1, log_every=1, device="cpu")
    full = tmp_path / "full"
    metrics = train_run(cfg, full, progress=False)
    assert [(s["start"], s["end"], s["teacher"]) for s in metrics.stages] == [
        (0, 2, "retinanet_mnv2_fpn256"),
        (2, 4, "faster_rcnn_mnv2_fpn256"),
    ]
    log = RunRecord(full).read_log()
    assert "stage 1: teacher faster_rcnn_mnv2_fpn256" in log and "'loss_weight': 0.5" in log

    cut = tmp_path / "cut"
    with pytest.raises(RunStopped):
        train_run(cfg, cut, progress=False, stop_after=3)
    stage0 = torch.load(cut / "checkpoints" / "stage0_end.pt", weights_only=True)
    assert stage0["stage"] == 0 and stage0["iteration"] == 2
    last = torch.load(cut / "checkpoints" / "last.pt", weights_only=True)
    assert last["stage"] == 1 and last["iteration"] == 3
    train_run(cfg, cut, progress=False)
    resumed = RunRecord(cut).read_log().rsplit(" starts; pid ", 1)[1]  # the log of the second attempt
    assert re.search(r"resumed from .*last.pt at iteration 3 \(stage 1\)", resumed)
    assert "stage 1: teacher faster_rcnn_mnv2_fpn256" in resumed and "retinanet_mnv2_fpn256" not in resumed
    assert (cut / "checkpoints" / "stage1_end.pt").exists()
    _assert_same_weights(full, cut)
    assert _curves(full) == _curves(cut)


@pytest.mark.parametrize("reinit", [True, False])
def test_switch_carries_or_reinits_criteria_and_keeps_student_state(tmp_path, make_run, teacher_ckpts, reinit):
    import dataclasses

    retina = TeacherConfig(model=RETINA, checkpoint=str(teacher_ckpts["retina"]))
    frcnn = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    stages = (StageConfig(teacher=retina, fraction=0.5), StageConfig(teacher=frcnn, fraction=0.5))
    cfg = make_run("mimic", stages=stages)
    cfg = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, reinit_on_switch=reinit))
    trainer = Trainer(cfg, RunRecord(tmp_path), runs_root=tmp_path, progress=False)
    trainer.step()
    old = {k: v.clone() for k, v in trainer.criterion.state_dict().items()}
    student_state = {id(p): trainer.optimizer.state[p] for p in trainer.student.parameters() if p.requires_grad}
    trainer.switch_stage(1)
    assert trainer.stage == 1 and trainer.teacher.card.family == "faster_rcnn"
    new = trainer.criterion.state_dict()
    same = all(torch.equal(v, old[k]) for k, v in new.items())
    assert same is (not reinit)
    group = next(g for g in trainer.optimizer.param_groups if g["name"] == "criterion")
    assert [id(p) for p in group["params"]] == [id(p) for p in trainer.criterion.parameters()]
    assert all(
        trainer.optimizer.state[p] is student_state[id(p)] for p in trainer.student.parameters() if p.requires_grad
    )
    trainer.step()  # the new criterion trains


def test_same_teacher_is_not_reloaded(tmp_path, make_run, teacher_ckpts):
    frcnn = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    stages = (
        StageConfig(teacher=frcnn, fraction=0.5),
        StageConfig(teacher=frcnn, fraction=0.5, options={"loss_weight": 2.0}),
    )
    trainer = Trainer(make_run("mimic", stages=stages), RunRecord(tmp_path), runs_root=tmp_path, progress=False)
    teacher = trainer.teacher
    trainer.switch_stage(1)
    assert trainer.teacher is teacher
    assert all(c.loss_weight == 2.0 for c in trainer.criterion.criteria.values())
