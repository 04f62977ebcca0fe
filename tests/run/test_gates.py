"""Sanity gates: the divergence guard, the teacher gate (weak teacher, teacher not done, weights that are not
the ones its record evaluated) and zero-weight parity (distillation at weight 0 is the student alone)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from benchmark.config import TeacherConfig, teacher_run_config
from benchmark.distill.methods import METHODS
from benchmark.run.failures import Diverged, TeacherRejected
from benchmark.run.guard import DivergenceGuard
from benchmark.run.record import RunRecord
from benchmark.run.resolve import resolve, run_id
from benchmark.run.train import train_run
from benchmark.run.validate import teacher_problems

from .conftest import FRCNN, TRAIN


def test_guard_fails_at_the_first_loss_far_above_the_running_median():
    guard = DivergenceGuard(factor=10.0, window=50)
    for i in range(1, 31):
        guard.observe(i, 1.0 + 0.01 * (i % 3))
    guard.observe(31, 5.0)  # a spike of 5x: kept, recorded
    assert guard.stats.max_ratio == pytest.approx(5.0 / 1.01) and guard.stats.max_ratio_iter == 31
    with pytest.raises(Diverged, match=r"^diverged at iteration 32: loss 30 vs running median 1\.01 "):
        guard.observe(32, 30.0)
    off = DivergenceGuard(factor=None, window=50)
    for i in range(1, 40):
        off.observe(i, 1.0 if i < 30 else 1e6)  # off: never fails, still measures
    assert off.stats.max_loss == 1e6 and off.stats.max_ratio == 1e6


def test_guard_needs_a_history_before_judging():
    guard = DivergenceGuard(factor=2.0, window=50)
    for i, loss in enumerate([10.0, 1.0, 50.0], start=1):  # the first steps only fill the window
        guard.observe(i, loss)
    assert guard.stats.max_ratio is None


def test_guard_restarts_its_window_at_a_new_stage():
    guard = DivergenceGuard(factor=10.0, window=4)
    for i in range(1, 6):
        guard.observe(i, 1.0)
    guard.restart()  # the next stage's loss is another quantity: 40x the last stage's is not a divergence
    for i in range(6, 12):
        guard.observe(i, 40.0 + i % 2)
    assert guard.stats.max_loss == 41.0 and guard.stats.max_ratio == pytest.approx(41 / 40.5)
    with pytest.raises(Diverged, match="diverged at iteration 12"):
        guard.observe(12, 1000.0)  # and it is judged again once the new window has filled


def test_a_stage_whose_loss_is_far_above_the_last_ones_is_no_divergence(tmp_path, make_run, teacher_ckpts):
    from benchmark.config import StageConfig

    teacher = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    stages = (  # the second stage's distillation term is 1e4 x the first's: the loss jumps ~100x at the switch
        StageConfig(teacher=teacher, fraction=0.5, options={"loss_weight": 1.0}),
        StageConfig(teacher=teacher, fraction=0.5, options={"loss_weight": 1e4}),
    )
    cfg = make_run(
        "mimic", stages=stages, iterations=8, diverge_window=2, checkpoint_every=8, log_every=1, device="cpu"
    )
    metrics = train_run(cfg, tmp_path / "run", progress=False)
    train = metrics.curves["train"]
    assert train[4]["loss"] > 20 * train[3]["loss"]  # iteration 5, the first of stage 1, vs iteration 4
    assert "stage 1: method mimic" in RunRecord(tmp_path / "run").read_log()


def test_a_diverging_config_fails_with_the_numbers(tmp_path, make_run):
    # warm-up to a learning rate 1000x the stable one: the loss explodes at iteration ~40, finite but far above
    # its median (a learning rate this large goes non-finite at once without the warm-up)
    cfg = make_run(
        optimizer="sgd", lr=2.0, warmup_iters=40, grad_clip=None, iterations=80, diverge_window=20, checkpoint_every=80
    )
    with pytest.raises(Diverged):
        train_run(cfg, tmp_path / "run", progress=False)
    reason = RunRecord(tmp_path / "run").read_status()["reason"]
    assert RunRecord(tmp_path / "run").read_status()["state"] == "failed"
    assert reason.startswith("diverged at iteration ") and "vs running median" in reason, reason


def test_stability_is_recorded_for_a_stable_run(tmp_path, make_run):
    metrics = train_run(make_run(iterations=25, diverge_window=10), tmp_path / "run", progress=False)
    assert metrics.stability.max_loss > 0 and metrics.stability.max_ratio is not None
    assert metrics.stability.window == 10


def _trained_teacher(tmp_path, make_run, *, min_map):
    runs = tmp_path / "runs"
    teacher = TeacherConfig(model=FRCNN, train=TRAIN, seed=0)
    student = make_run("mimic", teacher=teacher)
    student = dataclasses.replace(student, distill=dataclasses.replace(student.distill, min_teacher_map=min_map))
    tcfg = teacher_run_config(student, teacher)
    train_run(tcfg, runs / run_id(tcfg), progress=False)
    return runs, student, tcfg


def test_a_weak_teacher_is_refused_before_and_at_training(tmp_path, make_run):
    runs, student, tcfg = _trained_teacher(tmp_path, make_run, min_map=0.5)  # a tiny teacher learns nothing
    teacher_map = RunRecord(runs / run_id(tcfg)).read_metrics().final["mAP"]
    problems = teacher_problems(resolve(student), runs)
    assert problems == [
        (
            "distill.teacher",
            f"teacher run {run_id(tcfg)} has test mAP {teacher_map:.4f}, below distill.min_teacher_map=0.5: it did "
            "not learn (see its log.txt); delete its run directory to retrain it, or lower distill.min_teacher_map",
        )
    ]
    with pytest.raises(TeacherRejected, match=f"teacher run {run_id(tcfg)} has test mAP"):
        train_run(student, runs / run_id(student), progress=False)


def test_teacher_weights_must_be_the_ones_its_record_evaluated(tmp_path, make_run):
    runs, student, tcfg = _trained_teacher(tmp_path, make_run, min_map=None)
    assert teacher_problems(resolve(student), runs) == []
    final = RunRecord(runs / run_id(tcfg)).final_weights
    state = torch.load(final, weights_only=True)
    first = next(iter(state["model"]))
    state["model"][first] = state["model"][first] + 1.0  # weights changed after the evaluation
    torch.save(state, final)
    ((key, message),) = teacher_problems(resolve(student), runs)
    assert key == "distill.teacher" and "is not the weights file its record evaluated" in message


def test_a_teacher_run_that_is_not_done_is_refused(tmp_path, make_run):
    student = make_run("mimic", teacher=TeacherConfig(model=FRCNN, train=TRAIN))
    ((_, message),) = teacher_problems(resolve(student), tmp_path / "runs")
    assert message.startswith("teacher run faster_rcnn_mnv2_fpn256-none-s0-") and "is not done" in message


@pytest.fixture(scope="module")
def student_alone(tmp_path_factory):
    from .conftest import tiny_run

    run_dir = tmp_path_factory.mktemp("alone") / "run"
    return run_dir, train_run(tiny_run(iterations=4, log_every=1), run_dir, progress=False)


@pytest.mark.parametrize("method", [m for m in METHODS.names() if m != "none"])
def test_zero_weight_distillation_trains_the_student_alone(method, tmp_path, make_run, teacher_ckpts, student_alone):
    """Every method with all its loss weights at 0 trains the student exactly as without distillation: the
    distillation path (teacher forward, criteria, their parameters and random draws) does not perturb it."""
    alone_dir, alone = student_alone
    spec = METHODS.get(method)
    teacher = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    cfg = make_run(method, teacher=teacher, iterations=4, log_every=1)
    zero = {w: 0.0 for w in spec.weights}
    cfg = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, options=zero))
    kd = train_run(cfg, tmp_path / method, progress=False)
    for row in kd.curves["train"]:
        assert all(v == 0.0 for k, v in row.items() if k.startswith("kd")), row

    def detection(rows):
        return [{k: v for k, v in r.items() if k != "time_s" and not k.startswith("kd")} for r in rows]

    assert detection(kd.curves["train"]) == detection(alone.curves["train"])
    a = torch.load(alone_dir / "checkpoints" / "model_final.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / method / "checkpoints" / "model_final.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), method
    assert kd.final == alone.final
