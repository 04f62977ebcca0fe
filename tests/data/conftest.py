"""Fixtures of the data tests: an isolated cache directory and a tiny hand-made COCO folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(cache))
    return cache


def _write_coco(root: Path, data: dict, images: dict[str, np.ndarray]) -> Path:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "train").mkdir(parents=True, exist_ok=True)
    for name, pixels in images.items():
        Image.fromarray(pixels).save(root / "train" / name)
    ann = root / "annotations" / "instances_train.json"
    ann.write_text(json.dumps(data))
    return ann


@pytest.fixture
def write_coco():
    """``write(root, data, images)``: ``annotations/instances_train.json`` + ``train/<name>``; returns the json."""
    return _write_coco


@pytest.fixture
def small_coco() -> tuple[dict, dict[str, np.ndarray]]:
    """One 200x100 (w x h) image: a red 40x20 block at x 10..50, y 30..50; categories 7 and 3; one crowd box."""
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    pixels[30:50, 10:50] = (255, 0, 0)
    data = {
        "images": [
            {"id": 11, "file_name": "a.png", "width": 200, "height": 100},
            {"id": 12, "file_name": "b.png", "width": 200, "height": 100},
        ],
        "annotations": [
            {"id": 1, "image_id": 11, "category_id": 7, "bbox": [10, 30, 40, 20], "area": 800, "iscrowd": 0},
            {"id": 2, "image_id": 11, "category_id": 3, "bbox": [100, 0, 100, 100], "area": 1e4, "iscrowd": 0},
            {"id": 3, "image_id": 11, "category_id": 3, "bbox": [60, 60, 20, 20], "area": 400, "iscrowd": 1},
            {"id": 4, "image_id": 12, "category_id": 3, "bbox": [0, 0, 10, 10]},
        ],
        "categories": [{"id": 7, "name": "seven"}, {"id": 3, "name": "three"}],
    }
    return data, {"a.png": pixels, "b.png": pixels}
