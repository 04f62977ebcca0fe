"""Summary statistics of a COCO ``instances`` file (for ``dfmsd-bench data info``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.coco import load_coco_json

SIDE_BINS = (0, 8, 16, 32, 64, 128, float("inf"))  # histogram of sqrt(w*h) in pixels
SMALL_MAX, MEDIUM_MAX = 32**2, 96**2  # COCOeval area ranges (on the annotation's ``area``)


def split_stats(ann_file: str | Path) -> dict[str, Any]:
    """Counts and size summaries of one split (validated with :func:`load_coco_json`); JSON-ready."""
    data = load_coco_json(ann_file)
    names = {c["id"]: str(c["name"]) for c in data["categories"]}
    anns = [a for a in data["annotations"] if not a.get("iscrowd", 0)]
    widths = np.asarray([img["width"] for img in data["images"]], dtype=np.float64)
    heights = np.asarray([img["height"] for img in data["images"]], dtype=np.float64)
    per_image = Counter(a["image_id"] for a in anns)
    boxes_per_image = np.asarray([per_image.get(img["id"], 0) for img in data["images"]], dtype=np.float64)
    wh = np.asarray([a["bbox"][2:] for a in anns], dtype=np.float64).reshape(-1, 2)
    sides = np.sqrt(wh.clip(min=0).prod(axis=1))
    areas = np.asarray([a["area"] for a in anns], dtype=np.float64)
    class_counts = Counter(names[a["category_id"]] for a in anns)
    hist, _ = np.histogram(sides, bins=np.asarray(SIDE_BINS))
    return {
        "annotation_file": str(ann_file),
        "images": len(data["images"]),
        "boxes": len(anns),
        "crowd_boxes": len(data["annotations"]) - len(anns),
        "classes": len(names),
        "class_counts": {names[k]: class_counts.get(names[k], 0) for k in sorted(names)},
        "image_width": _summary(widths),
        "image_height": _summary(heights),
        "boxes_per_image": _summary(boxes_per_image),
        "box_side": _summary(sides, percentiles=(10, 50, 90)),
        "box_side_histogram": {_bin_label(lo, hi): int(n) for lo, hi, n in zip(SIDE_BINS, SIDE_BINS[1:], hist)},
        "coco_sizes": {
            "small": int((areas <= SMALL_MAX).sum()),
            "medium": int(((areas > SMALL_MAX) & (areas <= MEDIUM_MAX)).sum()),
            "large": int((areas > MEDIUM_MAX).sum()),
        },
    }


def _summary(values: np.ndarray, percentiles: tuple[int, ...] = (50,)) -> dict[str, float]:
    if values.size == 0:
        return {}
    out = {"min": float(values.min())}
    out.update({f"p{p}": float(np.percentile(values, p)) for p in percentiles})
    out["max"] = float(values.max())
    return out


def _bin_label(lo: float, hi: float) -> str:
    return f">={lo:g}" if hi == float("inf") else f"{lo:g}-{hi:g}"


def format_stats(split: str, stats: dict[str, Any]) -> list[str]:
    """Human-readable lines for one split."""

    def fmt(summary: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:g}" for k, v in summary.items()) or "-"

    lines = [
        f"{split}: {stats['images']} images, {stats['boxes']} boxes ({stats['crowd_boxes']} crowd), "
        f"classes: {stats['classes']}  [{stats['annotation_file']}]",
        "  boxes per class: " + ", ".join(f"{k} {v}" for k, v in stats["class_counts"].items()),
        f"  image width: {fmt(stats['image_width'])}; height: {fmt(stats['image_height'])}",
        f"  boxes per image: {fmt(stats['boxes_per_image'])}",
        f"  box side sqrt(w*h) px: {fmt(stats['box_side'])}",
        "  side histogram: " + " | ".join(f"{k}: {v}" for k, v in stats["box_side_histogram"].items()),
        "  COCO sizes (area <=32^2 / <=96^2 / >96^2): " + ", ".join(f"{k} {v}" for k, v in stats["coco_sizes"].items()),
    ]
    return lines
