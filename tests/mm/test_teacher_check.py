"""The teacher check (a sweep's ``teacher_check``) with a tiny mmdet teacher trained here for 100 iterations on
synthetic shapes: its expected AP set right lets the students train, set wrong refuses them; the check is a DAG
node that runs once per teacher, and its evaluation is kept by checkpoint hash (reused by a later check, by
``plan --check-teachers`` and after a relaunch)."""

from __future__ import annotations

import copy

import pytest
import torch
import yaml

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from benchmark.cli import main as cli_main  # noqa: E402
from benchmark.config import EvalConfig, ModelConfig, RunConfig, TrackingConfig, TrainConfig, to_plain  # noqa: E402
from benchmark.launch.executors import LocalExecutor  # noqa: E402
from benchmark.launch.plan import build_plan  # noqa: E402
from benchmark.launch.scheduler import execute, node_dir, read_plan_file, run_dir  # noqa: E402
from benchmark.launch.spec import sweep_from_dict  # noqa: E402
from benchmark.launch.teacher_check import CheckSpec, score_teacher  # noqa: E402
from benchmark.run.record import RunRecord  # noqa: E402
from benchmark.run.train import train_run  # noqa: E402

from .conftest import DATA, tiny  # noqa: E402

EVAL = EvalConfig(batch_size=4, eval_teacher=False)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """(checkpoint, test mAP of its record): mmdet:tiny_retinanet trained for 100 iterations (~1 AP)."""
    cfg = RunConfig(
        name="tiny-teacher",
        role="teacher",
        data=DATA,
        model=tiny("tiny_retinanet"),
        train=TrainConfig(iterations=100, optimizer="adamw", lr=2e-3, warmup_iters=5, log_every=50, num_threads=1),
        eval=EVAL,
        tracking=TrackingConfig(wandb=False),
    )
    run = tmp_path_factory.mktemp("teacher") / "runs" / "t"
    metrics = train_run(cfg, run, progress=False)
    assert metrics.final["mAP"] > 0.001  # it learned something: the check compares a real number
    return run / "checkpoints" / "model_final.pt", metrics.final["mAP"]


def sweep(checkpoint, expected: float, seeds=(0, 1)) -> dict:
    return {
        "name": "checked",
        "base": {
            "data": to_plain(DATA),
            "model": {"name": "mmdet:tiny_retinanet"},
            "train": {"iterations": 2, "batch_size": 2, "num_threads": 1},
            "eval": to_plain(EVAL),
            "distill": {"teacher": "tiny", "min_teacher_map": None},
            "tracking": {"wandb": False},
        },
        "teachers": {"tiny": {"model": {"name": "mmdet:tiny_retinanet"}, "checkpoint": str(checkpoint)}},
        "teacher_check": {"expected": {"tiny": expected}, "tolerance": 0.05},
        "grid": {"distill.method": ["mimic", "fgd"], "seed": list(seeds)},
    }


def plan_of(data):
    return build_plan(sweep_from_dict(copy.deepcopy(data), "checked.yaml"))


def test_one_check_node_before_every_student_of_the_teacher(teacher):
    plan = plan_of(sweep(teacher[0], 1.0))
    (nid,) = plan.checks
    assert nid.startswith("check-mmdet_tiny_retinanet-") and plan.checks[nid].role == "check"
    assert plan.check_specs[nid] == CheckSpec("tiny", 1.0, 0.05, None)
    assert len(plan.runs) == 4 and all(run.deps == (nid,) for run in plan.runs.values())
    order = plan.node_order()
    assert order.index(nid) < min(order.index(r) for r in plan.runs)
    assert plan.checks[nid].argv[-4:] == ("--expected", "1.0", "--tolerance", "0.05")
    (cache,) = plan.caches.values()  # the teacher cache is built only once the teacher has passed
    assert cache.deps == (nid,) and all(run.caches == (cache.run_id,) for run in plan.runs.values())
    assert list(plan_of(sweep(teacher[0], 2.0)).checks) != [nid]  # another expectation is another check


def test_right_expectation_trains_the_students_and_a_wrong_one_refuses_them(teacher, tmp_path, fake_trainer):
    checkpoint, record_map = teacher
    out = tmp_path / "out"
    right = 100 * record_map  # the check evaluates what the teacher run's final evaluation did
    plan = plan_of(sweep(checkpoint, right))
    (nid,) = plan.checks
    executor = LocalExecutor(out / "runs", workers=1, gpus=[], trainer=fake_trainer)
    result = execute(plan, out, executor, progress=False, log=lambda _: None)
    assert result.ok and len(result.done) == 4 and result.check_done == [nid]
    check = RunRecord(node_dir(out, plan.checks[nid]))
    status = check.read_status()
    assert status["state"] == "done" and status["box_ap"] == pytest.approx(right, abs=1e-3)
    assert "evaluated in" in check.read_log()
    kept = list((out / "cache" / "teacher-checks").glob("*.json"))
    assert len(kept) == 1
    (entry,) = read_plan_file(out, "checks")
    assert entry["id"] == nid and entry["expected"] == right and len(entry["students"]) == 4
    again = execute(plan, out, LocalExecutor(out / "runs", workers=1, gpus=[], trainer=fake_trainer), progress=False)
    assert again.started == [] and again.check_done == [nid]  # a relaunch checks nothing again

    # the same teacher expected 5 AP higher, for two new students: refused, without a second evaluation
    wrong = plan_of(sweep(checkpoint, right + 5.0, seeds=(2, 3)))
    (bad,) = wrong.checks
    messages: list[str] = []
    executor = LocalExecutor(out / "runs", workers=1, gpus=[], trainer=fake_trainer)
    result = execute(wrong, out, executor, progress=False, log=messages.append)
    assert list(result.check_failed) == [bad] and "-5.00 from the expected" in result.check_failed[bad]
    assert len(result.failed) == 4 and all(f"dependency {bad} failed" in r for r in result.failed.values())
    assert result.started == []  # no student was trained
    for rid in wrong.runs:
        assert not (run_dir(out, rid) / "fake_trained.log").exists()
    assert "kept result" in RunRecord(node_dir(out, wrong.checks[bad])).read_log()
    assert any("teacher check failed" in m for m in messages)


def test_plan_check_teachers_and_the_kept_result(teacher, tmp_path, monkeypatch, capsys):
    checkpoint, record_map = teacher
    right = 100 * record_map
    out = tmp_path / "out"
    for expected, code in ((right, 0), (right + 3.0, 1)):
        path = tmp_path / f"sweep-{code}.yaml"
        path.write_text(yaml.safe_dump(sweep(checkpoint, expected)))
        assert cli_main(["plan", str(path), "--out", str(out), "--check-teachers"]) == code
    text = capsys.readouterr().out
    assert text.count("teacher check tiny: box AP") == 2 and "evaluated in" in text and "kept result" in text
    assert ": ok" in text and "REFUSED" in text and "refused: teacher mmdet:tiny_retinanet" in text

    # the kept result is keyed by the checkpoint's bytes: a rewritten checkpoint is evaluated anew
    other = tmp_path / "other.pt"
    state = torch.load(checkpoint, weights_only=True)
    torch.save({**state, "note": "same weights, other file"}, other)
    (node,) = plan_of(sweep(other, right)).checks.values()
    score = score_teacher(node.config, out, images=None, progress=False)
    assert not score.cached and score.box_ap == pytest.approx(right, abs=1e-3)
    assert score_teacher(node.config, out, images=None, progress=False).cached
    subset = score_teacher(node.config, out, images=2, progress=False)  # a stated subset is its own result
    assert not subset.cached and subset.images == 2


def test_a_teacher_model_mismatch_is_refused_not_crashed(tmp_path, fake_trainer):
    """A checkpoint that does not load into the named model (the mis-load the check exists for) fails the node
    with the loader's one-line error and refuses the students."""
    torch.manual_seed(0)
    from benchmark.zoo import build_detector

    wrong = tmp_path / "fcos.pt"
    det = build_detector(ModelConfig(name="mmdet:tiny_fcos"), num_classes=DATA.synthetic_classes)
    torch.save({"model": det.state_dict()}, wrong)
    plan = plan_of(sweep(wrong, 1.0, seeds=(0,)))
    out = tmp_path / "out"
    result = execute(plan, out, LocalExecutor(out / "runs", workers=1, gpus=[], trainer=fake_trainer), progress=False)
    (reason,) = result.check_failed.values()
    assert len(result.failed) == 2 and "\n" not in reason and reason
