"""Tiny frozen teacher, student and synthetic data for the teacher-feature cache tests."""

from __future__ import annotations

import os

import pytest
import torch

from benchmark.config import DataConfig, DistillConfig, ModelConfig, RunConfig, TeacherConfig, TrainConfig

DATA = DataConfig(dataset="synthetic", synthetic_images=8, synthetic_size=64, input_size=64)
TEACHER = ModelConfig(name="faster_rcnn_mnv2_fpn256", options={"pretrained_backbone": False, "fpn_channels": 16})
STUDENT = ModelConfig(name="retinanet_mnv2_fpn64", options={"pretrained_backbone": False, "fpn_channels": 32})


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory):
    """Synthetic data in a throw-away cache, not the user's."""
    old = os.environ.get("DFMSD_BENCH_CACHE")
    os.environ["DFMSD_BENCH_CACHE"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if old is None:
        os.environ.pop("DFMSD_BENCH_CACHE", None)
    else:
        os.environ["DFMSD_BENCH_CACHE"] = old


@pytest.fixture(scope="session")
def dataset():
    from benchmark.data import build_dataset

    return build_dataset(DATA, "train", progress=False)


@pytest.fixture(scope="session")
def teacher(dataset):
    from benchmark.zoo import build_detector

    torch.manual_seed(1)
    return build_detector(TEACHER, num_classes=dataset.num_classes).freeze()


@pytest.fixture(scope="session")
def teacher_weights(teacher, tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "model_final.pt"
    torch.save({"model": teacher.state_dict()}, path)
    return path


def run_config(**distill) -> RunConfig:
    return RunConfig(
        data=DATA,
        model=STUDENT,
        train=TrainConfig(batch_size=2, num_threads=1),
        distill=DistillConfig(method="mimic", teacher=TeacherConfig(model=TEACHER), **distill),
    )
