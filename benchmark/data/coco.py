"""COCO-style detection data (an images folder + an ``instances`` json) as network-ready samples.

The annotation file is validated once, up front; every problem is a one-line :class:`DatasetError` naming
the file and the offending id or key. Categories map to contiguous labels ``1..K`` in sorted category-id
order (0 is background). Crowd boxes (``iscrowd``) are left out of the training targets but stay in
:attr:`CocoDetection.coco`, the untouched pycocotools index in original coordinates used by evaluation.

A sample is fully determined by ``(index, hflip)``: the image is resized by the dataset's
:class:`~benchmark.data.protocol.Resize` rule (native: the longest side equals ``input_size``, aspect kept,
bilinear with antialias, float pixels; mmdet: mmdet's keep-ratio ``Resize``, uint8 pixels, see
:mod:`benchmark.data.protocol`) and optionally flipped; there is no randomness here (the trainer draws flips
from its own generator, and the teacher-feature cache relies on this).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pycocotools.coco import COCO
from torch import Tensor

from benchmark.data.errors import DatasetError
from benchmark.data.protocol import Resize, aspect_group, mmdet_keeps_box, mmdet_train_images

BOX_TOLERANCE = 1.0  # pixels a box may extend past the image border (float rounding in converters)


@dataclass
class Sample:
    """One network input: ``image`` (3,h,w) RGB, float32 in [0,1] (native protocol) or uint8 in channels-last
    memory (mmdet protocol; :func:`to_float` on the device); ``target`` boxes (n,4) xyxy float32 in resized
    pixels and labels (n,) int64; ``scale`` = resized / original size (the isotropic factor); ``scale_factor`` =
    the per-axis ``(w, h)`` factors that map boxes back to original pixels (native: ``(scale, scale)``)."""

    image: Tensor
    target: dict[str, Tensor]
    image_id: int
    scale: float
    hflip: bool
    scale_factor: tuple[float, float] = (1.0, 1.0)


@dataclass
class Batch:
    """A list-of-samples batch (images keep their own sizes; the detector pads)."""

    images: list[Tensor]
    targets: list[dict[str, Tensor]]
    image_ids: list[int]
    scales: list[float]
    hflips: list[bool]

    def pin_memory(self) -> Batch:
        """The batch with its tensors in pinned memory (what ``DataLoader(pin_memory=True)`` calls)."""
        return Batch(
            images=[img.pin_memory() for img in self.images],
            targets=[{k: v.pin_memory() for k, v in t.items()} for t in self.targets],
            image_ids=self.image_ids,
            scales=self.scales,
            hflips=self.hflips,
        )


def collate(samples: Sequence[Sample]) -> Batch:
    """Batch samples without stacking (a ``collate_fn`` for :class:`torch.utils.data.DataLoader`)."""
    return Batch(
        images=[s.image for s in samples],
        targets=[s.target for s in samples],
        image_ids=[s.image_id for s in samples],
        scales=[s.scale for s in samples],
        hflips=[s.hflip for s in samples],
    )


# ---------------------------------------------------------------------------- geometry


def resized_shape(height: int, width: int, input_size: int) -> tuple[int, int, float]:
    """``(new_h, new_w, scale)`` with the longest side resized to ``input_size``, aspect kept."""
    scale = input_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale)), scale


def read_rgb(path: Path, *, image_id: Any = None) -> Tensor:
    """Decode an image file to a uint8 (3,H,W) RGB tensor (PIL; :class:`DatasetError` naming the file)."""
    try:
        with Image.open(path) as im:
            pixels = np.array(im if im.mode == "RGB" else im.convert("RGB"))  # writable copy for torch.from_numpy
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{path}: cannot decode image (image id {image_id}): {exc}") from None
    return torch.from_numpy(pixels).permute(2, 0, 1)


def to_float(image: Tensor) -> Tensor:
    """A sample image as float32 RGB in [0, 1]: uint8 pixels divided by 255 (mmdet protocol), floats as they are."""
    return image.to(torch.float32).div_(255.0) if image.dtype == torch.uint8 else image


def resize_uint8(image: Tensor, height: int, width: int) -> Tensor:
    """uint8 (3,H,W) → uint8 (3,height,width), bilinear without antialias (``cv2.INTER_LINEAR``'s sampling);
    the input itself if same size. Fast (torch's vectorised uint8 kernel) on a channels-last input, what
    :func:`read_rgb` returns: ``image[None]`` would give the batch dimension a stride torch's fast path rejects."""
    if tuple(image.shape[-2:]) == (height, width):
        return image
    batch = image.permute(1, 2, 0)[None].permute(0, 3, 1, 2)  # (1, 3, H, W) with channels-last batch strides
    return F.interpolate(batch, size=(height, width), mode="bilinear", align_corners=False)[0]


def resize_image(image: Tensor, height: int, width: int) -> Tensor:
    """uint8 (3,H,W) → float32 (3,height,width) in [0,1]; bilinear with antialias (exact copy if same size)."""
    out = image.to(torch.float32).div_(255.0)
    if tuple(out.shape[-2:]) != (height, width):
        out = F.interpolate(out[None], size=(height, width), mode="bilinear", align_corners=False, antialias=True)[0]
        out = out.clamp_(0.0, 1.0)
    return out


def hflip_boxes(boxes: Tensor, width: int) -> Tensor:
    """Mirror xyxy boxes in an image of ``width`` pixels: ``x1' = W - x2``, ``x2' = W - x1``."""
    out = boxes.clone()
    out[:, 0] = width - boxes[:, 2]
    out[:, 2] = width - boxes[:, 0]
    return out


# ---------------------------------------------------------------------------- annotation file


def load_coco_json(ann_file: str | Path) -> dict[str, Any]:
    """Read and validate a COCO ``instances`` file; fill ``area`` (w*h) and ``iscrowd`` (0) where missing.

    Raises :class:`DatasetError` (one line, naming the file and the id/key) for a missing or broken file,
    missing keys, an empty category list, duplicate ids, unknown image/category ids, and boxes with
    non-positive size or outside their image by more than :data:`BOX_TOLERANCE` pixels.
    """
    path = Path(ann_file)
    try:
        with open(path, "rb") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise DatasetError(f"{path}: annotation file not found") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read annotation file: {exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object with images/annotations/categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DatasetError(f"{path}: missing or non-list key {key!r}")
    if not data["categories"]:
        raise DatasetError(f"{path}: 'categories' is empty (need at least one category)")
    cat_ids = _unique_ids(path, data["categories"], "categories", ("id", "name"))
    images = {}
    for i, img in enumerate(data["images"]):
        _require(path, img, f"images[{i}]", ("id", "file_name", "width", "height"))
        if not _integer(img["id"]):
            raise DatasetError(f"{path}: images[{i}]: id must be an integer, got {img['id']!r}")
        if img["id"] in images:
            raise DatasetError(f"{path}: duplicate image id {img['id']}")
        if not _positive_number(img["width"]) or not _positive_number(img["height"]):
            raise DatasetError(
                f"{path}: image id {img['id']}: non-positive width/height {img['width']}x{img['height']}"
            )
        images[img["id"]] = img
    seen_anns: set[Any] = set()
    for i, ann in enumerate(data["annotations"]):
        _require(path, ann, f"annotations[{i}]", ("id", "image_id", "category_id", "bbox"))
        aid = ann["id"]
        if aid in seen_anns:
            raise DatasetError(f"{path}: duplicate annotation id {aid}")
        seen_anns.add(aid)
        if ann["image_id"] not in images:
            raise DatasetError(f"{path}: annotation id {aid}: unknown image_id {ann['image_id']!r}")
        if ann["category_id"] not in cat_ids:
            raise DatasetError(f"{path}: annotation id {aid}: unknown category_id {ann['category_id']!r}")
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_finite_number(v) for v in bbox)):
            raise DatasetError(f"{path}: annotation id {aid}: bbox must be 4 finite numbers [x, y, w, h], got {bbox!r}")
        img = images[ann["image_id"]]
        x, y, w, h = bbox
        if (
            x < -BOX_TOLERANCE
            or y < -BOX_TOLERANCE
            or x + w > img["width"] + BOX_TOLERANCE
            or y + h > img["height"] + BOX_TOLERANCE
        ):
            raise DatasetError(
                f"{path}: annotation id {aid} (image id {img['id']}): box {bbox} lies outside the "
                f"{img['width']}x{img['height']} image (tolerance {BOX_TOLERANCE:g} px)"
            )
        ann.setdefault("area", float(w) * float(h))
        ann.setdefault("iscrowd", 0)
    return data


def _require(path: Path, entry: Any, where: str, keys: Sequence[str]) -> None:
    if not isinstance(entry, dict):
        raise DatasetError(f"{path}: {where}: expected an object, got {type(entry).__name__}")
    for key in keys:
        if key not in entry:
            raise DatasetError(f"{path}: {where}: missing key {key!r}")


def _unique_ids(path: Path, entries: list[Any], where: str, keys: Sequence[str]) -> set[Any]:
    ids: set[Any] = set()
    for i, entry in enumerate(entries):
        _require(path, entry, f"{where}[{i}]", keys)
        if not _integer(entry["id"]):
            raise DatasetError(f"{path}: {where}[{i}]: id must be an integer, got {entry['id']!r}")
        if entry["id"] in ids:
            raise DatasetError(f"{path}: duplicate {where} id {entry['id']}")
        ids.add(entry["id"])
    return ids


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _positive_number(v: Any) -> bool:
    return _finite_number(v) and v > 0


def _degenerate(ann: dict[str, Any]) -> bool:
    return ann["bbox"][2] <= 0 or ann["bbox"][3] <= 0


# The end markers of the two formats a detection data set holds: JPEG's EOI marker (0xFF is byte-stuffed in
# the entropy-coded data, so the marker cannot occur by chance) and PNG's IEND chunk type.
_END_MARKERS = {b"\xff\xd8": b"\xff\xd9", b"\x89PNG": b"IEND"}
_TAIL_BYTES = 1024  # trailing bytes some writers put after the marker (padding, appended metadata)


def truncated(path: Path) -> bool:
    """Whether a JPEG or PNG file ends before its end marker (an interrupted download or copy): two short reads,
    no decoding. Other formats are not judged (False)."""
    with open(path, "rb") as f:
        head = f.read(4)
        end = next((m for magic, m in _END_MARKERS.items() if head.startswith(magic)), None)
        if end is None:
            return False
        size = f.seek(0, os.SEEK_END)
        f.seek(max(len(head), size - _TAIL_BYTES))
        return end not in f.read()


# ---------------------------------------------------------------------------- dataset


class CocoDetection(torch.utils.data.Dataset):
    """A COCO-style split as deterministic :class:`Sample` s (see the module docstring).

    ``drop_degenerate``: leave boxes with non-positive width/height out of the targets instead of raising
    (official COCO train2017 has two boxes of height 0). ``max_images``: keep the first N images of the file
    (after ``filter_empty_gt``). ``resize``: the protocol's resize rule (default: native at ``input_size``); an
    ``mmdet`` rule also selects mmdet's box rule and uint8 pixels. ``filter_empty_gt``: keep only the training
    images mmdet keeps (:func:`~benchmark.data.protocol.mmdet_train_images`).
    """

    def __init__(
        self,
        ann_file: str | Path,
        image_dir: str | Path,
        *,
        input_size: int = 400,
        max_images: int | None = None,
        drop_degenerate: bool = False,
        resize: Resize | None = None,
        filter_empty_gt: bool = False,
    ) -> None:
        resize = resize or Resize("native", int(input_size))
        if resize.long <= 0 or (resize.protocol == "mmdet" and resize.short <= 0):
            raise ValueError(f"resize sizes must be positive, got {resize}")
        self.ann_file = Path(ann_file)
        self.image_dir = Path(image_dir)
        self.resize = resize
        self.input_size = resize.long
        self.mmdet = resize.protocol == "mmdet"
        data = load_coco_json(self.ann_file)
        degenerate = [a for a in data["annotations"] if _degenerate(a)]
        if degenerate and not (drop_degenerate or self.mmdet):
            a = degenerate[0]
            raise DatasetError(
                f"{self.ann_file}: annotation id {a['id']} (image id {a['image_id']}): box {a['bbox']} has "
                f"non-positive size ({len(degenerate)} such box(es))"
            )
        self.num_dropped = len(degenerate)

        cats = sorted(data["categories"], key=lambda c: c["id"])
        self.num_classes = len(cats)
        self.class_names = [str(c["name"]) for c in cats]
        self.label_to_cat_id = {label: c["id"] for label, c in enumerate(cats, start=1)}
        self.cat_id_to_label = {cat: label for label, cat in self.label_to_cat_id.items()}

        images = mmdet_train_images(data["images"], data["annotations"]) if filter_empty_gt else data["images"]
        self.num_filtered = len(data["images"]) - len(images)
        images = images if max_images is None else images[: max(0, int(max_images))]
        self._check_image_files(images)
        self._images = images
        self.image_ids = [img["id"] for img in images]

        per_image: dict[Any, list[dict[str, Any]]] = {img["id"]: [] for img in images}
        sizes = {img["id"]: (img["width"], img["height"]) for img in images}
        for ann in data["annotations"]:
            if ann["image_id"] not in per_image or ann.get("iscrowd", 0):
                continue
            if mmdet_keeps_box(ann, *sizes[ann["image_id"]]) if self.mmdet else not _degenerate(ann):
                per_image[ann["image_id"]].append(ann)
        self._boxes: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        for img in images:
            boxes, labels = self._targets(img, per_image[img["id"]])
            self._boxes.append(boxes)
            self._labels.append(labels)

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO()
            self.coco.dataset = data
            self.coco.createIndex()

    def _check_image_files(self, images: list[dict[str, Any]]) -> None:
        if not self.image_dir.is_dir():
            raise DatasetError(f"{self.image_dir}: image folder not found (for {self.ann_file})")
        with os.scandir(self.image_dir) as it:
            present = {entry.name for entry in it}
        for img in images:
            name = str(img["file_name"])
            if name not in present and not (self.image_dir / name).is_file():
                raise DatasetError(
                    f"{self.image_dir / name}: image file not found (image id {img['id']} in {self.ann_file})"
                )

    def check_complete_files(self) -> None:
        """Refuse (:class:`DatasetError` naming the file and image id) the first image file cut off before its end
        marker (:func:`truncated`); no image is decoded."""
        for img in self._images:
            path = self.image_dir / str(img["file_name"])
            if truncated(path):
                raise DatasetError(f"{path}: image file is truncated (image id {img['id']} in {self.ann_file})")

    def _targets(self, img: dict[str, Any], anns: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        if not anns:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.int64)
        xywh = np.asarray([a["bbox"] for a in anns], dtype=np.float64)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        labels = np.asarray([self.cat_id_to_label[a["category_id"]] for a in anns], dtype=np.int64)
        if self.mmdet:  # mmdet clips after resizing (Resize's clip_object_border), not here
            return boxes.astype(np.float32), labels
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, img["width"])
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, img["height"])
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return boxes[keep].astype(np.float32), labels[keep]

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int) -> Sample:
        return self.get(index, False)

    def image_info(self, index: int) -> dict[str, Any]:
        """The COCO ``images`` entry of sample ``index`` (id, file_name, width, height)."""
        return self._images[index]

    def resized_shape(self, index: int) -> tuple[int, int]:
        """``(h, w)`` of sample ``index`` after resizing, from the annotation file (no image is decoded)."""
        info = self._images[index]
        return self.resize.shape(int(info["height"]), int(info["width"]))

    def aspect_groups(self) -> list[int]:
        """mmdet's aspect-ratio group of every image (0: ``w < h``, 1: ``w >= h``), from the annotation file."""
        return [aspect_group(int(img["width"]), int(img["height"])) for img in self._images]

    def get(self, index: int, hflip: bool = False) -> Sample:
        """Sample ``index``, resized by the dataset's rule, mirrored when ``hflip``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        img = self._images[index]
        path = self.image_dir / str(img["file_name"])
        raw = read_rgb(path, image_id=img["id"])
        height, width = raw.shape[-2:]
        if (height, width) != (img["height"], img["width"]):
            raise DatasetError(
                f"{path}: image is {width}x{height} but {self.ann_file} says {img['width']}x{img['height']} "
                f"(image id {img['id']})"
            )
        new_h, new_w = self.resize.shape(height, width)
        scale = self.resize.factor(height, width)
        factors = self.resize.box_factors(height, width)
        if self.mmdet:  # the pixels stay channels-last in memory: (3, h, w) strides (1, 3w, 3), no transposing copy
            image = resize_uint8(raw, new_h, new_w)
            image = image.flip(-1) if hflip else image  # torch's flip keeps the layout (and is fast on it)
            boxes = torch.from_numpy(self._boxes[index]) * torch.tensor(factors * 2, dtype=torch.float32)
        else:
            image = resize_image(raw, new_h, new_w)
            boxes = torch.from_numpy(self._boxes[index] * np.float32(scale))
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, new_w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, new_h)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])  # boxes inside the 1-px tolerance strip
        boxes, labels = boxes[keep], torch.from_numpy(self._labels[index])[keep]
        if hflip:
            image = image if self.mmdet else image.flip(-1)  # mmdet: mirrored above, with the layout change
            boxes = hflip_boxes(boxes, new_w)
        return Sample(
            image=image if self.mmdet else image.contiguous(),
            target={"boxes": boxes, "labels": labels},
            image_id=int(img["id"]),
            scale=float(scale),
            hflip=bool(hflip),
            scale_factor=factors,
        )
