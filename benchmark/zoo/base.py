"""The back-end-neutral detector interface that the trainer, the evaluator and the distillers use.

A back end (torchvision now, mmdet later) wraps its model in a :class:`Detector`. Everything the rest of
the suite needs goes through these four members, so a new back end plugs in without touching the
losses, the trainer or the record.

Conventions shared by every back end:

* ``images``: a list of float tensors (3, h_i, w_i) in [0, 1], RGB, already resized by the data pipeline
  (the detector never resizes; it only normalises and pads to its size divisor).
* ``targets``: a list of dicts with ``boxes`` (n_i, 4) xyxy float in those input pixels and ``labels``
  (n_i,) int64 in 1..K (0 is reserved for background).
* features: an ordered dict ``level name -> (N, C, H, W)``, names and strides as on the model card.
* ``img_metas``: one dict per image with ``img_shape`` (h_i, w_i) and ``pad_shape`` (H_pad, W_pad).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from benchmark.zoo.card import ModelCard


@dataclass
class FeatureBatch:
    """FPN features of one batch and the geometry the distillation losses need."""

    features: dict[str, Tensor]
    img_metas: list[dict[str, tuple[int, int]]]


class Detector(nn.Module, ABC):
    """A detector with a model card, a training forward that also yields its FPN features, and inference."""

    card: ModelCard

    @abstractmethod
    def forward_train(
        self, images: list[Tensor], targets: list[dict[str, Tensor]]
    ) -> tuple[dict[str, Tensor], FeatureBatch]:
        """Detection losses (dict of scalars) and the FPN features of the same pass (captured by a hook)."""

    @abstractmethod
    def extract_features(self, images: list[Tensor]) -> FeatureBatch:
        """FPN features only (backbone + neck), as a frozen teacher needs them."""

    @abstractmethod
    def predict(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        """Detections per image: ``boxes`` (xyxy, input pixels), ``scores``, ``labels`` (1..K)."""

    @abstractmethod
    def configure_inference(self, *, score_thresh: float, max_detections: int) -> None:
        """Score threshold and detections kept per image for :meth:`predict` (evaluation settings)."""

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> tuple[dict[str, Tensor], FeatureBatch]:
        """:meth:`forward_train`, so that ``DistributedDataParallel(detector)(images, targets)`` syncs gradients."""
        return self.forward_train(images, targets)

    def freeze(self) -> Detector:
        """Eval mode, no gradients: how a teacher is held."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
