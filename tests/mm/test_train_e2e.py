"""mmdet detectors through OUR trainer (benchmark.run.train.train_run) on synthetic shapes, a few iterations each:
mmdet teacher -> torchvision student, torchvision teacher -> mmdet student, mmdet -> mmdet (stage-wise DFMSD)."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from benchmark.config import (  # noqa: E402
    DistillConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    StageConfig,
    TeacherConfig,
    TrackingConfig,
    TrainConfig,
)
from benchmark.run.evaluate import METRIC_NAMES  # noqa: E402
from benchmark.run.record import RunRecord  # noqa: E402
from benchmark.run.resolve import run_id  # noqa: E402
from benchmark.run.train import train_run  # noqa: E402
from benchmark.zoo import build_detector  # noqa: E402

from .conftest import DATA, NUM_CLASSES, tiny  # noqa: E402

TV_RETINA = ModelConfig(name="retinanet_mnv2_fpn64", options={"pretrained_backbone": False, "fpn_channels": 32})
TV_FRCNN = ModelConfig(
    name="faster_rcnn_mnv2_fpn256",
    options={
        "pretrained_backbone": False,
        "fpn_channels": 32,
        "representation_size": 64,
        "box_batch_size_per_image": 16,
    },
)
TRAIN = TrainConfig(
    iterations=4,
    batch_size=2,
    optimizer="adamw",
    lr=1e-3,
    warmup_iters=1,
    checkpoint_every=2,
    log_every=1,
    num_threads=1,
)


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory):
    """Random-init teachers saved as our trainer saves final weights."""
    out = tmp_path_factory.mktemp("teachers")

    def save(model: ModelConfig, seed: int) -> str:
        torch.manual_seed(seed)
        det = build_detector(model, num_classes=NUM_CLASSES)
        path = out / f"{model.name.replace(':', '_')}-{seed}.pt"
        torch.save({"model": det.state_dict(), "card": det.card.name, "options": dict(model.options)}, path)
        return str(path)

    return save


def run(tmp_path, student: ModelConfig, method: str, distill: DistillConfig) -> dict:
    cfg = RunConfig(
        name=f"mm-{method}",
        data=DATA,
        model=student,
        train=TRAIN,
        distill=distill,
        eval=EvalConfig(batch_size=4, eval_teacher=False),
        tracking=TrackingConfig(wandb=False),
    )
    run_dir = tmp_path / "runs" / run_id(cfg)
    metrics = train_run(cfg, run_dir, progress=False)
    record = RunRecord(run_dir)
    assert record.is_done()
    status = record.read_status()
    assert status["iteration"] == status["total_iterations"] == TRAIN.iterations
    assert set(metrics.final) == set(METRIC_NAMES) and all(math.isfinite(v) for v in metrics.final.values())
    train_curve = metrics.curves["train"]
    assert train_curve[-1]["iter"] == TRAIN.iterations
    assert all(math.isfinite(v) for row in train_curve for k, v in row.items() if isinstance(v, float))
    assert record.final_weights.is_file() and metrics.cost.step_time_s > 0
    return metrics


def test_mmdet_teacher_torchvision_student(tmp_path, teacher_file):
    teacher = TeacherConfig(model=tiny("tiny_faster_rcnn"), checkpoint=teacher_file(tiny("tiny_faster_rcnn"), 1))
    metrics = run(tmp_path, TV_RETINA, "fgd", DistillConfig(method="fgd", teacher=teacher))
    assert any(k.startswith("kd/") for k in metrics.curves["train"][-1])


def test_torchvision_teacher_mmdet_student(tmp_path, teacher_file):
    teacher = TeacherConfig(model=TV_FRCNN, checkpoint=teacher_file(TV_FRCNN, 1))
    metrics = run(tmp_path, tiny("tiny_retinanet"), "pkd", DistillConfig(method="pkd", teacher=teacher))
    assert any(k.startswith("kd/") for k in metrics.curves["train"][-1])


def test_mmdet_to_mmdet_stagewise_dfmsd(tmp_path, teacher_file):
    """A same-family first-stage teacher (RetinaNet), then the two-stage target (Faster R-CNN)."""
    first = TeacherConfig(model=tiny("tiny_retinanet"), checkpoint=teacher_file(tiny("tiny_retinanet"), 2))
    target = TeacherConfig(model=tiny("tiny_faster_rcnn"), checkpoint=teacher_file(tiny("tiny_faster_rcnn"), 1))
    stages = (
        StageConfig(teacher=first, fraction=0.5, options={"gamma": 0.0}),
        StageConfig(teacher=target, fraction=0.5, options={"gamma": 1.0}),
    )
    metrics = run(tmp_path, tiny("tiny_retinanet"), "dfmsd", DistillConfig(method="dfmsd", stages=stages))
    assert len(metrics.stages) == 2


def test_mmdet_student_alone_resumes_exactly(tmp_path):
    """No teacher; stopped after 2 iterations and resumed: the same final weights as one straight run."""
    from benchmark.run.train import RunStopped

    cfg = RunConfig(
        name="mm-none", data=DATA, model=tiny("tiny_faster_rcnn"), train=TRAIN, tracking=TrackingConfig(wandb=False)
    )
    straight = tmp_path / "a" / run_id(cfg)
    train_run(cfg, straight, progress=False)
    resumed = tmp_path / "b" / run_id(cfg)
    with pytest.raises(RunStopped):
        train_run(cfg, resumed, progress=False, stop_after=2)
    train_run(cfg, resumed, progress=False)
    a = torch.load(RunRecord(straight).final_weights, weights_only=True)["model"]
    b = torch.load(RunRecord(resumed).final_weights, weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
