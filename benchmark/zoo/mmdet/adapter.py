"""An mmdet 3.x detector behind the back-end-neutral :class:`~benchmark.zoo.base.Detector` interface.

Conversions (ours -> mmdet -> ours):

* images: our RGB floats in [0, 1] become 0..255 **BGR** tensors, which is what mmdet's image loader
  hands every data preprocessor (``bgr_to_rgb=True`` configs flip them back; caffe-style configs use
  BGR means). The model's own ``data_preprocessor`` then normalises and pads to its size divisor.
* targets: ``labels`` 1..K become mmdet's 0..K-1; boxes (xyxy, input pixels) are passed as they are.
* detections: mmdet's ``pred_instances`` back to ``boxes``/``scores``/``labels`` with labels 1..K.
  Each image's ``ori_shape`` is its input shape with scale factor 1, so boxes stay in input pixels.
  Score threshold and per-image cap: the config's ``test_cfg`` (mmdet's COCO protocol: 0.05, 100)
  until :meth:`configure_inference` sets them (our evaluator does, from ``eval``).
* features: the neck outputs as ``p<log2 stride>``; in training captured by a forward hook on
  ``model.neck`` during ``model.loss`` (one pass, no second backbone run).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from benchmark.zoo.base import Detector, FeatureBatch
from benchmark.zoo.card import ModelCard
from benchmark.zoo.recorder import FeatureRecorder


class MMDetDetector(Detector):
    """Wraps a built mmdet detector (``model``) and its card; see the module docstring."""

    def __init__(self, model: nn.Module, card: ModelCard) -> None:
        super().__init__()
        self.model = model
        self.card = card
        self._level_names = [lv.name for lv in card.levels]

    # ------------------------------------------------------------------ conversions

    def _samples(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None) -> list[Any]:
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData

        samples = []
        for i, img in enumerate(images):
            if img.dim() != 3 or img.shape[0] != 3:
                raise ValueError(f"image {i}: expected a (3, h, w) tensor, got shape {tuple(img.shape)}")
            h, w = int(img.shape[1]), int(img.shape[2])
            sample = DetDataSample(
                metainfo={"img_shape": (h, w), "ori_shape": (h, w), "scale_factor": (1.0, 1.0), "flip": False}
            )
            if targets is not None:
                labels = targets[i]["labels"]
                if labels.numel() and int(labels.min()) < 1:
                    raise ValueError(f"target {i}: labels must be 1..K (0 is background), got {labels.tolist()}")
                gt = InstanceData()
                gt.bboxes = targets[i]["boxes"].float().reshape(-1, 4)
                gt.labels = labels.long() - 1
                sample.gt_instances = gt
            samples.append(sample)
        return samples

    def _prepare(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None, training: bool) -> dict:
        """mmdet's batch: normalised, padded ``inputs`` and ``data_samples`` on the model's device."""
        if not images:
            raise ValueError("empty image list")
        preprocessor = self.model.data_preprocessor
        device = self.device
        if preprocessor.device != device:  # nn.Module.to on this wrapper does not reach mmengine's _device
            preprocessor.to(device)
        bgr = [img.to(device).flip(0) * 255.0 for img in images]
        return preprocessor({"inputs": bgr, "data_samples": self._samples(images, targets)}, training)

    def _feature_batch(self, feats: tuple[Tensor, ...], data_samples: list[Any]) -> FeatureBatch:
        if len(feats) != len(self._level_names):
            raise RuntimeError(f"{self.card.name}: neck gave {len(feats)} levels, card has {len(self._level_names)}")
        metas = [
            {"img_shape": tuple(s.metainfo["img_shape"]), "pad_shape": tuple(s.metainfo["batch_input_shape"])}
            for s in data_samples
        ]
        return FeatureBatch(features=dict(zip(self._level_names, feats)), img_metas=metas)

    # ------------------------------------------------------------------ Detector interface

    def forward_train(
        self, images: list[Tensor], targets: list[dict[str, Tensor]]
    ) -> tuple[dict[str, Tensor], FeatureBatch]:
        """mmdet's ``model.loss`` (summed per name, ``loss*`` keys only) and the neck outputs of that pass."""
        if getattr(self.model, "with_mask", False):
            raise ValueError(
                f"{self.card.name}: has a mask head; training it needs instance masks, which the benchmark's "
                "data does not carry. Use it as a teacher, or a box-only config as the student."
            )
        batch = self._prepare(images, targets, training=True)
        with FeatureRecorder(self.model, "neck") as neck:
            raw = self.model.loss(batch["inputs"], batch["data_samples"])
        if neck.calls != 1:
            raise RuntimeError(f"{self.card.name}: the neck ran {neck.calls} times in one loss pass (expected 1)")
        losses = {}
        for key, value in raw.items():
            if "loss" in key:
                losses[key] = sum(value) if isinstance(value, list | tuple) else value
        return losses, self._feature_batch(tuple(neck.output), batch["data_samples"])

    def extract_features(self, images: list[Tensor]) -> FeatureBatch:
        """``model.extract_feat`` (backbone + neck) on the preprocessed batch."""
        batch = self._prepare(images, None, training=False)
        feats = self.model.extract_feat(batch["inputs"])
        return self._feature_batch(tuple(feats), batch["data_samples"])

    def predict(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        """``model.predict`` (eval mode, no grad) as ``boxes``/``scores``/``labels`` (1..K), input pixels."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                batch = self._prepare(images, None, training=False)
                results = self.model.predict(batch["inputs"], batch["data_samples"], rescale=True)
        finally:
            self.train(was_training)
        out = []
        for r in results:
            pred = r.pred_instances
            out.append(
                {"boxes": pred.bboxes.detach(), "scores": pred.scores.detach(), "labels": pred.labels.long() + 1}
            )
        return out

    def configure_inference(self, *, score_thresh: float, max_detections: int) -> None:
        """Set ``score_thr`` and ``max_per_img`` of the final test stage (dense head, or RoI head)."""
        owner = getattr(self.model, "roi_head", None) or self.model.bbox_head
        test_cfg = owner.test_cfg
        if test_cfg is None or "score_thr" not in test_cfg:
            raise ValueError(f"{self.card.name}: {type(owner).__name__}.test_cfg has no score_thr to set")
        test_cfg.score_thr = float(score_thresh)
        test_cfg.max_per_img = int(max_detections)
