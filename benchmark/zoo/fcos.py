"""FCOS on the MobileNetV2-FPN trunk: a second one-stage student of another (anchor-free) family.

torchvision's FCOS head (four GroupNorm(32) convs per branch, centre-ness on the regression branch), one
point per location whose "anchor" size equals the level stride (8/16/32/64, which torchvision's FCOS
uses for the regress ranges [0,64], [64,128], [128,256], [256,inf) and the 1.5-stride centre sampling).
"""

from __future__ import annotations

from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS

from benchmark.zoo.registry import register_model
from benchmark.zoo.torchvision_detector import TorchvisionDetector, make_card, wrap
from benchmark.zoo.trunk import LEVEL_STRIDES, check_group_norm, mobilenet_v2_fpn, replace_transform

# Measured by `python -m benchmark.zoo.measure` (pretrained_backbone=False, torch.manual_seed(0), one class).
_METRICS = {"params": 2_690_758, "flops": 4.52169e9, "flops_input": (400, 400), "num_classes": 1}

FCOS_MNV2_FPN64 = make_card(
    "fcos_mnv2_fpn64",
    family="fcos",
    stages=1,
    channels=64,
    metrics=_METRICS,
    notes="student of another family (anchor-free); GroupNorm head",
)


@register_model(FCOS_MNV2_FPN64)
def fcos_mnv2_fpn64(
    *, num_classes: int, pretrained_backbone: bool = True, fpn_channels: int = 64, frozen_blocks: int | None = None
) -> TorchvisionDetector:
    """FCOS (GN head), MobileNetV2-FPN ``fpn_channels``, ``num_classes`` foreground classes."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    check_group_norm(fpn_channels)
    backbone = mobilenet_v2_fpn(out_channels=fpn_channels, pretrained=pretrained_backbone, frozen_blocks=frozen_blocks)
    anchors = AnchorGenerator(tuple((s,) for s in LEVEL_STRIDES.values()), ((1.0,),) * len(LEVEL_STRIDES))
    model = FCOS(backbone, num_classes, anchor_generator=anchors, score_thresh=0.001, detections_per_img=100)
    return wrap(replace_transform(model), FCOS_MNV2_FPN64, channels=fpn_channels, label_offset=1)
