"""The data protocol of a run (``data.protocol``): how images are resized, which boxes and training images are
used, and how training batches are grouped.

``native`` (the default; what every run before the option existed computed):

* the longest side is resized to ``data.input_size`` (aspect kept, bilinear with antialias, float32 pixels), one
  scale for both axes;
* every image of the annotation file is used; crowd boxes and boxes of non-positive size are left out;
* batches mix aspect ratios.

``mmdet``: mmdetection 3.3's COCO protocol (its ``coco_detection.py`` base config and ``CocoDataset``):

* resize = ``Resize(scale=data.scale, keep_ratio=True)``: factor ``f = min(max(scale) / max(h, w),
  min(scale) / min(h, w))``, new size ``int(w f + 0.5) x int(h f + 0.5)`` (``mmcv.rescale_size``), bilinear
  *without* antialias on the uint8 pixels (the sampling of ``cv2.resize(..., INTER_LINEAR)``, torch's uint8
  kernel: within one intensity level of OpenCV's fixed-point arithmetic); boxes scaled by the per-axis factors
  ``new_w / w`` and ``new_h / h`` and clipped to the image (mmdet's ``Resize._resize_bboxes``). The pixels stay
  uint8 (what mmdet's data preprocessor receives); :func:`benchmark.data.coco.to_float` makes them floats on
  the device;
* flip = ``RandomFlip(prob=0.5)``, horizontal: ``x1' = w - x2`` (the flip itself is drawn by the batch stream);
* boxes = mmdet's ``parse_data_info``: a box is a target iff it is not marked ``ignore``, overlaps the image
  with a positive area, its ``area`` is positive and its width and height are at least 1 pixel; crowd boxes are
  ignored;
* training images = ``filter_cfg=dict(filter_empty_gt=True, min_size=32)``: an image is kept iff some
  annotation (any, crowd included, as COCO's ``catToImgs``) names it and its shorter side is at least 32 pixels
  (train2017: 117,266 of 118,287 images). Test and validation splits are not filtered;
* batches = ``AspectRatioBatchSampler``: images go to one of two groups (``w < h`` | ``w >= h``) in the seeded
  stream's order and a batch is a full group; groups carry over epoch ends, as with mmdet's ``InfiniteSampler``
  (:class:`benchmark.run.batches.BatchStream`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PROTOCOLS = ("native", "mmdet")
DEFAULT_SCALE = (1333, 800)
MMDET_MIN_SIZE = 32  # filter_cfg min_size of mmdet's COCO configs


@dataclass(frozen=True, order=True)
class Resize:
    """A keep-ratio resize rule: ``native`` (longest side = ``long``) or ``mmdet`` (within ``(long, short)``)."""

    protocol: str = "native"
    long: int = 400
    short: int = 0  # mmdet only: the shorter side of the scale

    @classmethod
    def of(cls, data: Any) -> Resize:
        """The rule of a :class:`~benchmark.config.DataConfig` (``protocol``, ``input_size``, ``scale``)."""
        if data.protocol == "mmdet":
            return cls("mmdet", max(data.scale), min(data.scale))
        return cls("native", int(data.input_size))

    def factor(self, height: int, width: int) -> float:
        """The isotropic factor of the rule (mmdet: ``mmcv.rescale_size``'s ``scale_factor``)."""
        if self.protocol == "mmdet":
            return min(self.long / max(height, width), self.short / min(height, width))
        return self.long / max(height, width)

    def shape(self, height: int, width: int) -> tuple[int, int]:
        """``(new_h, new_w)`` of an image of ``height`` x ``width`` pixels."""
        f = self.factor(height, width)
        if self.protocol == "mmdet":
            return max(1, int(height * f + 0.5)), max(1, int(width * f + 0.5))
        return max(1, round(height * f)), max(1, round(width * f))

    def box_factors(self, height: int, width: int) -> tuple[float, float]:
        """``(w_scale, h_scale)`` that map boxes to the resized image: the isotropic factor (native) or the
        per-axis ``new_w / w``, ``new_h / h`` of mmdet's ``Resize``."""
        if self.protocol == "mmdet":
            new_h, new_w = self.shape(height, width)
            return new_w / width, new_h / height
        f = self.factor(height, width)
        return f, f

    @property
    def tag(self) -> str:
        """Short name in cache entry files: ``s400`` (native, as before the option existed), ``m1333x800``."""
        return f"s{self.long}" if self.protocol == "native" else f"m{self.long}x{self.short}"

    def key(self) -> Any:
        """What a cache key hashes for this rule (native: the size alone, the key of caches built before)."""
        return self.long if self.protocol == "native" else [self.protocol, self.long, self.short]


def mmdet_keeps_box(ann: Mapping[str, Any], width: float, height: float) -> bool:
    """mmdet's ``CocoDataset.parse_data_info`` rule for one annotation of an image of ``width`` x ``height``
    (crowd boxes pass here: they are ignored instances there, left out of the targets by the caller)."""
    if ann.get("ignore", False):
        return False
    x, y, w, h = ann["bbox"]
    inter_w = max(0.0, min(x + w, width) - max(x, 0.0))
    inter_h = max(0.0, min(y + h, height) - max(y, 0.0))
    return inter_w * inter_h > 0 and ann.get("area", w * h) > 0 and w >= 1 and h >= 1


def mmdet_train_images(images: Sequence[dict[str, Any]], annotations: Iterable[dict[str, Any]]) -> list[dict]:
    """The training images mmdet's ``filter_empty_gt=True, min_size=32`` keeps, in file order."""
    named = {ann["image_id"] for ann in annotations}
    return [img for img in images if img["id"] in named and min(img["width"], img["height"]) >= MMDET_MIN_SIZE]


def aspect_group(width: int, height: int) -> int:
    """``AspectRatioBatchSampler``'s bucket: 0 for portrait (``w < h``), 1 otherwise."""
    return 0 if width < height else 1
