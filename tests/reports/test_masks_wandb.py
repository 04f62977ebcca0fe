"""The mask figure from a real (tiny) DFMSD run, and the W&B report run (offline)."""

from pathlib import Path

import pytest
import torch

from benchmark.config import (
    DataConfig,
    DistillConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TeacherConfig,
    TrackingConfig,
    TrainConfig,
)
from benchmark.run.resolve import run_id
from reports.load import load_runs
from reports.render import Table

DATA = DataConfig(dataset="synthetic", synthetic_images=4, synthetic_size=64, input_size=64)
STUDENT = ModelConfig(name="retinanet_mnv2_fpn64", options={"pretrained_backbone": False, "fpn_channels": 32})
TEACHER = ModelConfig(name="retinanet_mnv2_fpn256", options={"pretrained_backbone": False, "fpn_channels": 32})


@pytest.fixture
def dfmsd_run(tmp_path, monkeypatch) -> Path:
    """Two iterations of DFMSD between random-init tiny RetinaNets on 64-px synthetic shapes."""
    from benchmark.run.train import train_run
    from benchmark.zoo import build_detector

    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(1)
    teacher = build_detector(TEACHER, num_classes=DATA.synthetic_classes)
    ckpt = tmp_path / "teacher.pt"
    torch.save({"model": teacher.state_dict(), "card": teacher.card.name}, ckpt)
    cfg = RunConfig(
        name="tiny-dfmsd",
        data=DATA,
        model=STUDENT,
        train=TrainConfig(iterations=2, optimizer="adamw", lr=1e-3, warmup_iters=1, log_every=1, num_threads=1),
        distill=DistillConfig(method="dfmsd", teacher=TeacherConfig(model=TEACHER, checkpoint=str(ckpt))),
        eval=EvalConfig(eval_teacher=False),
        tracking=TrackingConfig(wandb=False),
    )
    run_dir = tmp_path / "sweep" / "runs" / run_id(cfg)
    train_run(cfg, run_dir, progress=False, no_wandb=True)
    return run_dir


def test_mask_inputs_from_finished_run(dfmsd_run, tmp_path):
    from reports.masks import mask_inputs_from_run
    from reports.plots import plot_masks

    inputs = mask_inputs_from_run(dfmsd_run, image_index=1)
    assert inputs.image.shape == (3, 64, 64) and inputs.boxes.shape[1] == 4
    assert list(inputs.per_level) == ["p3", "p4", "p5", "p6"]
    p3 = inputs.per_level["p3"]
    assert p3["attention_spatial"].shape == p3["attention_enhanced"].shape == p3["mask_spatial"].shape == (8, 8)
    assert p3["attention_channel"].shape == (32,) and p3["mask_channel"].shape == (32,)
    assert set(p3["mask_spatial"].unique().tolist()) <= {0.0, 1.0}
    # default ratio 0.65 of the 64 cells masked (ceil), the most attended ones after enhancement
    assert int((p3["mask_spatial"] == 0).sum()) == 42
    masked = p3["attention_enhanced"][p3["mask_spatial"] == 0]
    kept = p3["attention_enhanced"][p3["mask_spatial"] == 1]
    assert masked.min() >= kept.max()
    assert torch.allclose(p3["attention_spatial"].mean(), torch.tensor(1.0, dtype=p3["attention_spatial"].dtype))
    written = plot_masks(inputs.image, inputs.boxes, inputs.per_level, tmp_path / "masks", title=inputs.title)
    assert all(p.stat().st_size > 5_000 for p in written)


def test_mask_inputs_refuse_runs_without_teacher(tmp_path, rec):
    from reports.masks import mask_inputs_from_run

    with pytest.raises(FileNotFoundError):
        mask_inputs_from_run(tmp_path)
    run = rec.write_run(tmp_path / "s", rec.make_config(), mAP=0.3)
    with pytest.raises(FileNotFoundError, match="finished run"):
        mask_inputs_from_run(run)


def test_wandb_offline_report_run(cmp_sweep, tmp_path):
    from reports.tables.comparison import comparison_table
    from reports.wandb_log import log_report, report_run_id

    frame = load_runs([cmp_sweep])
    table: Table = comparison_table(frame)
    png = tmp_path / "fig.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(png)
    warnings: list[str] = []
    folder = log_report(frame, tmp_path, tables=[table], figures=[png], mode="offline", warn=warnings.append)
    assert warnings == [] and folder is not None and folder.is_dir()
    assert report_run_id(["cmp"]) in folder.name
    assert any(folder.glob("*.wandb"))
    assert log_report(frame, tmp_path, tables=[table], mode="disabled") is None
