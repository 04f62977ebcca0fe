"""RetinaNet on the MobileNetV2-FPN trunk with a GroupNorm head: the one-stage student (FPN 64) and its
bigger same-family teacher (FPN 256, DFMSD's stage-1 teacher).

GroupNorm(32) in the four head convs (torchvision's RetinaNet v2 head): with torchvision's default head
(no norm, std-0.01 init) a 64-channel FPN starves - trunk gradient 0.004, mAP ~0.005 (data.md). Anchors:
3 octave scales x ratios 0.5/1/2 per location, base size 2 x stride (16/32/64/128 px, the teacher RPN's
sizes; mmdet's 4 x stride would start at 32 px, above most NEON trees) - our choice for small objects.
"""

from __future__ import annotations

from functools import partial

from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.retinanet import RetinaNet, RetinaNetHead

from benchmark.zoo.card import ModelCard
from benchmark.zoo.registry import register_model
from benchmark.zoo.torchvision_detector import TorchvisionDetector, make_card, wrap
from benchmark.zoo.trunk import GN_GROUPS, LEVEL_STRIDES, check_group_norm, mobilenet_v2_fpn, replace_transform

ANCHOR_SIZES = tuple(tuple(2 * s * 2 ** (i / 3) for i in range(3)) for s in LEVEL_STRIDES.values())
ASPECT_RATIOS = ((0.5, 1.0, 2.0),) * len(LEVEL_STRIDES)

# Measured by `python -m benchmark.zoo.measure` (pretrained_backbone=False, torch.manual_seed(0), one class).
_METRICS_FPN256 = {"params": 9_147_629, "flops": 41.1418e9, "flops_input": (400, 400), "num_classes": 1}
_METRICS_FPN64 = {"params": 2_712_749, "flops": 4.68334e9, "flops_input": (400, 400), "num_classes": 1}

RETINANET_MNV2_FPN256 = make_card(
    "retinanet_mnv2_fpn256",
    family="retinanet",
    stages=1,
    channels=256,
    metrics=_METRICS_FPN256,
    notes="same-family one-stage teacher (DFMSD stage 1); GroupNorm head",
)
RETINANET_MNV2_FPN64 = make_card(
    "retinanet_mnv2_fpn64",
    family="retinanet",
    stages=1,
    channels=64,
    metrics=_METRICS_FPN64,
    notes="student; GroupNorm head",
)


def _retinanet(
    card: ModelCard, *, num_classes: int, pretrained_backbone: bool, fpn_channels: int, frozen_blocks: int | None
) -> TorchvisionDetector:
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    check_group_norm(fpn_channels)
    backbone = mobilenet_v2_fpn(out_channels=fpn_channels, pretrained=pretrained_backbone, frozen_blocks=frozen_blocks)
    anchors = AnchorGenerator(ANCHOR_SIZES, ASPECT_RATIOS)
    head = RetinaNetHead(
        fpn_channels,
        anchors.num_anchors_per_location()[0],
        num_classes,
        norm_layer=partial(nn.GroupNorm, GN_GROUPS),
    )
    model = RetinaNet(
        backbone, num_classes, anchor_generator=anchors, head=head, score_thresh=0.001, detections_per_img=100
    )
    return wrap(replace_transform(model), card, channels=fpn_channels, label_offset=1)


@register_model(RETINANET_MNV2_FPN256)
def retinanet_mnv2_fpn256(
    *, num_classes: int, pretrained_backbone: bool = True, fpn_channels: int = 256, frozen_blocks: int | None = None
) -> TorchvisionDetector:
    """RetinaNet (GN head), MobileNetV2-FPN 256: the bigger same-family teacher."""
    return _retinanet(
        RETINANET_MNV2_FPN256,
        num_classes=num_classes,
        pretrained_backbone=pretrained_backbone,
        fpn_channels=fpn_channels,
        frozen_blocks=frozen_blocks,
    )


@register_model(RETINANET_MNV2_FPN64)
def retinanet_mnv2_fpn64(
    *, num_classes: int, pretrained_backbone: bool = True, fpn_channels: int = 64, frozen_blocks: int | None = None
) -> TorchvisionDetector:
    """RetinaNet (GN head), MobileNetV2-FPN 64: the student."""
    return _retinanet(
        RETINANET_MNV2_FPN64,
        num_classes=num_classes,
        pretrained_backbone=pretrained_backbone,
        fpn_channels=fpn_channels,
        frozen_blocks=frozen_blocks,
    )
