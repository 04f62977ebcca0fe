"""Tiny synthetic runs for the trainer tests: 64-px shapes, random-init MobileNetV2 trunks, 32-channel FPNs."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from benchmark.config import (
    DataConfig,
    DistillConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    StageConfig,
    TeacherConfig,
    TrackingConfig,
    TrainConfig,
)

USER_CACHE = os.environ.get("DFMSD_BENCH_CACHE")  # before the session fixture points it elsewhere

DATA = DataConfig(dataset="synthetic", synthetic_images=8, synthetic_size=64)
STUDENT = ModelConfig(name="retinanet_mnv2_fpn64", options={"pretrained_backbone": False, "fpn_channels": 32})
FRCNN = ModelConfig(
    name="faster_rcnn_mnv2_fpn256",
    options={
        "pretrained_backbone": False,
        "fpn_channels": 32,
        "representation_size": 64,
        "box_batch_size_per_image": 16,
    },
)
RETINA = ModelConfig(name="retinanet_mnv2_fpn256", options={"pretrained_backbone": False, "fpn_channels": 32})
TRAIN = TrainConfig(
    iterations=6, optimizer="adamw", lr=1e-3, warmup_iters=2, checkpoint_every=2, log_every=2, num_threads=1
)


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Synthetic data and W&B files in a throw-away cache, not the user's."""
    old = os.environ.get("DFMSD_BENCH_CACHE")
    os.environ["DFMSD_BENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("DFMSD_BENCH_CACHE", None)
    else:
        os.environ["DFMSD_BENCH_CACHE"] = old


@pytest.fixture(scope="session")
def teacher_ckpts(tmp_path_factory):
    """Random-init tiny teachers saved as weight files: {"frcnn": path, "retina": path}."""
    from benchmark.zoo import build_detector

    out = tmp_path_factory.mktemp("teachers")
    paths = {}
    for key, model in (("frcnn", FRCNN), ("retina", RETINA)):
        torch.manual_seed(1)
        det = build_detector(model, num_classes=DATA.synthetic_classes)
        paths[key] = out / f"{key}.pt"
        torch.save({"model": det.state_dict(), "card": det.card.name}, paths[key])
    return paths


def tiny_run(
    method: str = "none",
    *,
    teacher: TeacherConfig | None = None,
    stages: tuple[StageConfig, ...] = (),
    wandb: bool = False,
    eval_teacher: bool = False,
    **train: object,
) -> RunConfig:
    return RunConfig(
        name=f"tiny-{method}",
        data=DATA,
        model=STUDENT,
        train=dataclasses.replace(TRAIN, **train),
        distill=DistillConfig(method=method, teacher=teacher, stages=stages, min_teacher_map=None),
        eval=EvalConfig(eval_teacher=eval_teacher),
        tracking=TrackingConfig(wandb=wandb),
    )


@pytest.fixture
def make_run():
    return tiny_run
