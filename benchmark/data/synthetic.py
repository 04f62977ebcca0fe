"""Synthetic COCO-format detection data: coloured shapes on noise, fully determined by a seed.

Our construction for tests and smoke runs (not from any paper). Class ``k`` is one (shape, colour) pair:
shape ``("rectangle", "ellipse", "triangle")[k % 3]``, colour ``PALETTE[k]``, so up to 12 classes. Each
image has 2-6 non-overlapping objects whose sides are drawn log-uniformly between 8 % and 45 % of the
image, on uniform RGB noise. Boxes are the exact pixel extent of each shape.

Layout (the same as a COCO folder): ``annotations/instances_<split>.json`` and ``<split>/*.png``.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from benchmark.data.store import build_atomically
from benchmark.paths import cache_dir

SHAPES = ("rectangle", "ellipse", "triangle")
PALETTE = {
    "red": (230, 25, 75),
    "green": (60, 180, 75),
    "blue": (0, 130, 200),
    "yellow": (255, 225, 25),
    "orange": (245, 130, 48),
    "purple": (145, 30, 180),
    "cyan": (70, 240, 240),
    "magenta": (240, 50, 230),
    "lime": (210, 245, 60),
    "pink": (250, 190, 212),
    "teal": (0, 128, 128),
    "brown": (170, 110, 40),
}
MAX_CLASSES = len(PALETTE)
FORMAT_VERSION = 1  # bump when the generated content changes (invalidates cached folders)


def class_names(num_classes: int) -> list[str]:
    """``colour_shape`` names of the first ``num_classes`` classes."""
    colours = list(PALETTE)
    return [f"{colours[k]}_{SHAPES[k % len(SHAPES)]}" for k in range(num_classes)]


def make_synthetic_coco(
    root: Path,
    *,
    num_images: int,
    size: int,
    num_classes: int,
    seed: int,
    splits: tuple[str, ...] = ("train", "test"),
) -> Path:
    """Write ``num_images`` images of ``size`` x ``size`` per split under ``root``; return ``root``.

    Image ids are unique across splits (split ``j`` holds ``j*num_images+1 .. (j+1)*num_images``).
    The output bytes depend only on the arguments.
    """
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be in 1..{MAX_CLASSES}, got {num_classes}")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    if num_images < 1:
        raise ValueError(f"num_images must be positive, got {num_images}")
    root = Path(root)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    categories = [
        {"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(class_names(num_classes))
    ]
    colours = list(PALETTE.values())
    ann_id = 0
    for j, split in enumerate(splits):
        rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
        (root / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(num_images):
            image_id = j * num_images + i + 1
            pixels = rng.integers(40, 216, size=(size, size, 3), dtype=np.uint8)
            canvas = Image.fromarray(pixels)
            draw = ImageDraw.Draw(canvas)
            for x0, y0, x1, y1, k in _place_objects(rng, size, num_classes):
                colour = tuple(int(c) for c in colours[k])
                shape = SHAPES[k % len(SHAPES)]
                if shape == "rectangle":
                    draw.rectangle((x0, y0, x1, y1), fill=colour)
                elif shape == "ellipse":
                    draw.ellipse((x0, y0, x1, y1), fill=colour)
                else:
                    draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=colour)
                ann_id += 1
                w, h = x1 - x0 + 1, y1 - y0 + 1  # PIL draws both end pixels
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "category_id": k + 1,
                        "bbox": [x0, y0, w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
            file_name = f"{split}_{i:05d}.png"
            canvas.save(root / split / file_name, format="PNG")
            images.append({"id": image_id, "file_name": file_name, "width": size, "height": size})
        coco = {
            "info": {"description": f"dfmsd-bench synthetic shapes, seed {seed}", "version": str(FORMAT_VERSION)},
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": categories,
        }
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco, sort_keys=True))
    return root


def _place_objects(rng: np.random.Generator, size: int, num_classes: int) -> list[tuple[int, int, int, int, int]]:
    """2-6 non-overlapping ``(x0, y0, x1, y1, class)`` boxes (inclusive pixel corners)."""
    placed: list[tuple[int, int, int, int, int]] = []
    lo, hi = max(6.0, 0.08 * size), 0.45 * size
    for _ in range(int(rng.integers(2, 7))):
        for _try in range(20):
            w, h = np.exp(rng.uniform(np.log(lo), np.log(hi), size=2)).astype(int)
            x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            box = (x0, y0, x0 + int(w) - 1, y0 + int(h) - 1)
            if all(box[2] < p[0] or p[2] < box[0] or box[3] < p[1] or p[3] < box[1] for p in placed):
                placed.append((*box, int(rng.integers(0, num_classes))))
                break
    return placed


def synthetic_params(*, num_images: int, size: int, num_classes: int, seed: int) -> dict[str, Any]:
    """The parameters that determine a synthetic folder (with the format version)."""
    return {"version": FORMAT_VERSION, "num_images": num_images, "size": size, "num_classes": num_classes, "seed": seed}


def prepare_synthetic(
    root: Path | None = None, *, num_images: int, size: int, num_classes: int, seed: int, force: bool = False
) -> Path:
    """A cached synthetic folder (default ``<cache>/synthetic/<params hash>``), generated once, atomically."""
    params = synthetic_params(num_images=num_images, size=size, num_classes=num_classes, seed=seed)
    if root is None:
        key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
        root = cache_dir() / "synthetic" / key

    def build(tmp: Path) -> dict[str, Any]:
        make_synthetic_coco(tmp, num_images=num_images, size=size, num_classes=num_classes, seed=seed)
        stats = {}
        for ann in sorted((tmp / "annotations").glob("instances_*.json")):
            data = json.loads(ann.read_text())
            stats[ann.stem.removeprefix("instances_")] = {
                "images": len(data["images"]),
                "boxes": len(data["annotations"]),
            }
        return stats

    return build_atomically(Path(root), builder="synthetic", params=params, build=build, force=force)
