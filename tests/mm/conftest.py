"""Tests of the mmdet back end (``pytest -m mm``; needs ``scripts/install_mm.sh``): tiny random-init mmdet
configs on synthetic shapes, on the CPU. The cache (synthetic data, mmdet model cards) is a throw-away one."""

from __future__ import annotations

import os

import pytest
import torch

from benchmark.config import DataConfig, ModelConfig

DATA = DataConfig(dataset="synthetic", synthetic_images=8, synthetic_size=64, input_size=64, hflip=False)
NUM_CLASSES = DATA.synthetic_classes
TINY = ("tiny_retinanet", "tiny_faster_rcnn", "tiny_fcos")


def tiny(name: str, **options: object) -> ModelConfig:
    return ModelConfig(name=f"mmdet:{name}", options=dict(options))


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    old = os.environ.get("DFMSD_BENCH_CACHE")
    os.environ["DFMSD_BENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("DFMSD_BENCH_CACHE", None)
    else:
        os.environ["DFMSD_BENCH_CACHE"] = old


@pytest.fixture
def images_targets():
    """Two images of different sizes (not multiples of 32) with boxes of labels 1..3."""
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 96, 128, generator=g), torch.rand(3, 128, 100, generator=g)]
    targets = [
        {"boxes": torch.tensor([[10.0, 12.0, 60.0, 70.0], [40.0, 20.0, 90.0, 50.0]]), "labels": torch.tensor([1, 3])},
        {"boxes": torch.tensor([[5.0, 5.0, 50.0, 80.0]]), "labels": torch.tensor([2])},
    ]
    return images, targets
