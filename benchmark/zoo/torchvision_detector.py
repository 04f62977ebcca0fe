"""The torchvision back end of :class:`benchmark.zoo.base.Detector`.

Wraps a torchvision ``FasterRCNN`` / ``RetinaNet`` / ``FCOS`` whose ``transform`` does not resize (see
:mod:`benchmark.zoo.trunk`). FPN features of a training step come from a forward hook on ``model.backbone``,
so the backbone runs once per step; the padded batch geometry comes from a hook on ``model.transform``.

Labels: the harness uses 1..K. Faster R-CNN keeps torchvision's convention (K + 1 softmax classes, 0 =
background). The sigmoid one-stage heads are built with K classes and see labels shifted to 0..K-1
(mmdet's convention), so no logit is spent on a background class; predictions are shifted back.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn
from torchvision.models.detection.image_list import ImageList

from benchmark.zoo.base import Detector, FeatureBatch
from benchmark.zoo.card import ModelCard
from benchmark.zoo.recorder import FeatureRecorder
from benchmark.zoo.trunk import WEIGHTS_SOURCE, fpn_levels


def img_metas(image_list: ImageList) -> list[dict[str, tuple[int, int]]]:
    """``img_shape`` (h, w) of each image and the padded batch ``pad_shape`` (H, W)."""
    pad = (int(image_list.tensors.shape[-2]), int(image_list.tensors.shape[-1]))
    return [{"img_shape": (int(h), int(w)), "pad_shape": pad} for h, w in image_list.image_sizes]


class TorchvisionDetector(Detector):
    """A torchvision detection model with the harness's Detector interface."""

    feature_module = "model.backbone"
    transform_module = "model.transform"

    def __init__(self, model: nn.Module, card: ModelCard, *, label_offset: int) -> None:
        super().__init__()
        self.model = model
        self.card = card
        self.label_offset = label_offset

    def forward_train(
        self, images: list[Tensor], targets: list[dict[str, Tensor]]
    ) -> tuple[dict[str, Tensor], FeatureBatch]:
        if not self.training:
            raise RuntimeError(f"{self.card.name}: forward_train needs training mode (call .train() first)")
        shifted = [{**t, "labels": t["labels"] - self.label_offset} for t in targets]
        with (
            FeatureRecorder(self, self.feature_module) as feats,
            FeatureRecorder(self, self.transform_module) as transform,
        ):
            losses = self.model(images, shifted)
        if feats.calls != 1:
            raise RuntimeError(f"{self.card.name}: backbone ran {feats.calls} times in one training forward")
        return losses, FeatureBatch(dict(feats.output), img_metas(transform.output[0]))

    def extract_features(self, images: list[Tensor]) -> FeatureBatch:
        image_list, _ = self.model.transform(images)
        return FeatureBatch(dict(self.model.backbone(image_list.tensors)), img_metas(image_list))

    def predict(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                detections = self.model(images)
        finally:
            self.train(was_training)
        return [
            {"boxes": d["boxes"], "scores": d["scores"], "labels": d["labels"] + self.label_offset} for d in detections
        ]

    def configure_inference(self, *, score_thresh: float, max_detections: int) -> None:
        # Faster R-CNN keeps these on its RoI heads, RetinaNet and FCOS on the model itself.
        owner = getattr(self.model, "roi_heads", self.model)
        owner.score_thresh = float(score_thresh)
        owner.detections_per_img = int(max_detections)


def count_params(module: nn.Module) -> int:
    """All parameters, frozen ones included (frozen-BN statistics are buffers, not parameters)."""
    return sum(p.numel() for p in module.parameters())


def wrap(model: nn.Module, card: ModelCard, *, channels: int, label_offset: int) -> TorchvisionDetector:
    """Wrap ``model``; the instance card is the registered one when the build matches it, else a variant card
    with the built levels and parameter count and FLOPs not measured (NaN)."""
    levels = fpn_levels(channels)
    params = count_params(model)
    if levels != card.levels or params != card.params:
        card = dataclasses.replace(
            card,
            levels=levels,
            params=params,
            flops=math.nan,
            notes=f"variant of {card.name} (options or class count differ from the card); FLOPs not measured",
        )
    return TorchvisionDetector(model, card, label_offset=label_offset)


def make_card(name: str, *, family: str, stages: int, channels: int, metrics: dict, notes: str) -> ModelCard:
    """A torchvision-back-end card on the MobileNetV2-FPN trunk; ``metrics`` is the builder's ``_METRICS``."""
    return ModelCard(
        name=name,
        backend="torchvision",
        family=family,
        stages=stages,
        levels=fpn_levels(channels),
        params=metrics["params"],
        flops=metrics["flops"],
        flops_input=metrics["flops_input"],
        weights=WEIGHTS_SOURCE,
        notes=notes,
        extra={"num_classes": metrics["num_classes"]},
    )
