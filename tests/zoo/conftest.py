"""Tiny zoo variants (random trunk, narrow FPN/heads) and a two-image batch of unequal sizes."""

import pytest
import torch

from benchmark.config import ModelConfig
from benchmark.zoo import build_detector

NUM_CLASSES = 2
TINY_OPTIONS = {
    "faster_rcnn_mnv2_fpn256": {"fpn_channels": 16, "representation_size": 32},
    "retinanet_mnv2_fpn256": {"fpn_channels": 32},
    "retinanet_mnv2_fpn64": {"fpn_channels": 32},
    "fcos_mnv2_fpn64": {"fpn_channels": 32},
}


def tiny(name: str, **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    options = {"pretrained_backbone": False, **TINY_OPTIONS[name], **extra}
    return build_detector(ModelConfig(name=name, options=options), num_classes=NUM_CLASSES)


def batch() -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 96, 128, generator=g), torch.rand(3, 120, 80, generator=g)]
    targets = [
        {"boxes": torch.tensor([[10.0, 12.0, 50.0, 60.0], [60.0, 20.0, 120.0, 90.0]]), "labels": torch.tensor([1, 2])},
        {"boxes": torch.tensor([[5.0, 30.0, 40.0, 70.0]]), "labels": torch.tensor([2])},
    ]
    return images, targets


@pytest.fixture(params=sorted(TINY_OPTIONS))
def model_name(request) -> str:
    return request.param
