"""Faster R-CNN on the MobileNetV2-FPN trunk: the two-stage teacher of data.md's measured recipe.

RPN anchors 16/32/64/128 px (one size per level p3..p6) x ratios 0.5/1/2; RoIAlign 7x7 on p3..p5 (the
max-pool level feeds the RPN only, as in torchvision's FPN models); two-FC box head; 128 sampled RoIs per
image (512 costs ~4x on CPU for no gain on NEON); inference keeps scores >= 0.001, 100 boxes per image.
"""

from __future__ import annotations

from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

from benchmark.zoo.registry import register_model
from benchmark.zoo.torchvision_detector import TorchvisionDetector, make_card, wrap
from benchmark.zoo.trunk import mobilenet_v2_fpn, replace_transform

# Measured by `python -m benchmark.zoo.measure` (pretrained_backbone=False, torch.manual_seed(0), one class).
_METRICS = {"params": 18_821_081, "flops": 38.5205e9, "flops_input": (400, 400), "num_classes": 1}

FASTER_RCNN_MNV2_FPN256 = make_card(
    "faster_rcnn_mnv2_fpn256",
    family="faster_rcnn",
    stages=2,
    channels=256,
    metrics=_METRICS,
    notes="teacher; RPN anchors 16-128 px; FLOPs with the RPN's 1000 test proposals",
)


@register_model(FASTER_RCNN_MNV2_FPN256)
def faster_rcnn_mnv2_fpn256(
    *,
    num_classes: int,
    pretrained_backbone: bool = True,
    fpn_channels: int = 256,
    frozen_blocks: int | None = None,
    representation_size: int = 1024,
    box_batch_size_per_image: int = 128,
) -> TorchvisionDetector:
    """Faster R-CNN, MobileNetV2-FPN (``fpn_channels``), ``num_classes`` foreground classes."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    backbone = mobilenet_v2_fpn(out_channels=fpn_channels, pretrained=pretrained_backbone, frozen_blocks=frozen_blocks)
    model = FasterRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=AnchorGenerator(((16,), (32,), (64,), (128,)), ((0.5, 1.0, 2.0),) * 4),
        box_roi_pool=MultiScaleRoIAlign(featmap_names=["p3", "p4", "p5"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(fpn_channels * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes + 1),
        box_batch_size_per_image=box_batch_size_per_image,
        box_score_thresh=0.001,
        box_detections_per_img=100,
    )
    return wrap(replace_transform(model), FASTER_RCNN_MNV2_FPN256, channels=fpn_channels, label_offset=0)
