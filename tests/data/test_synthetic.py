"""Synthetic shapes: deterministic bytes, valid COCO (pycocotools), cached atomically by parameters."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from PIL import Image
from pycocotools.coco import COCO

from benchmark.data import CocoDetection, make_synthetic_coco, prepare_synthetic
from benchmark.data.store import MARKER, read_marker


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_from_seed(tmp_path):
    kwargs = dict(num_images=4, size=64, num_classes=5, seed=3)
    a = _files(make_synthetic_coco(tmp_path / "a", **kwargs))
    b = _files(make_synthetic_coco(tmp_path / "b", **kwargs))
    c = _files(make_synthetic_coco(tmp_path / "c", **{**kwargs, "seed": 4}))
    assert a == b
    assert a.keys() == c.keys() and a != c
    assert set(a) >= {"annotations/instances_train.json", "annotations/instances_test.json", "train/train_00000.png"}


def test_valid_coco_with_boxes_inside_images(tmp_path):
    root = make_synthetic_coco(tmp_path, num_images=6, size=96, num_classes=3, seed=0)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(root / "annotations" / "instances_train.json"))
    assert sorted(coco.getCatIds()) == [1, 2, 3]
    assert len(coco.getImgIds()) == 6
    per_image = [len(coco.getAnnIds(imgIds=[i])) for i in coco.getImgIds()]
    assert min(per_image) >= 2 and max(per_image) <= 6
    for ann in coco.loadAnns(coco.getAnnIds()):
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 96 and y + h <= 96
    ann = coco.loadAnns(coco.getAnnIds())[0]
    img = coco.loadImgs(ann["image_id"])[0]
    with Image.open(root / "train" / img["file_name"]) as im:
        assert im.size == (96, 96) and im.mode == "RGB"
    test_ids = set(_image_ids(root / "annotations" / "instances_test.json"))
    assert not test_ids & set(coco.getImgIds())  # image ids unique across splits
    ds = CocoDetection(root / "annotations" / "instances_test.json", root / "test", input_size=96)
    assert ds.class_names == ["red_rectangle", "green_ellipse", "blue_triangle"]


def _image_ids(path: Path) -> list[int]:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path)).getImgIds()


def test_rejects_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="num_classes must be in 1..12"):
        make_synthetic_coco(tmp_path, num_images=1, size=64, num_classes=13, seed=0)


def test_prepare_synthetic_reuses_then_forces(tmp_path):
    kwargs = dict(num_images=2, size=48, num_classes=2, seed=1)
    root = prepare_synthetic(tmp_path / "syn", **kwargs)
    marker = root / MARKER
    first = marker.stat().st_mtime_ns
    stats = read_marker(root)["stats"]
    assert sorted(stats) == ["test", "train"] and all(s["images"] == 2 and s["boxes"] >= 4 for s in stats.values())
    assert prepare_synthetic(tmp_path / "syn", **kwargs) == root
    assert marker.stat().st_mtime_ns == first
    prepare_synthetic(tmp_path / "syn", force=True, **kwargs)
    assert marker.stat().st_mtime_ns != first
    assert not list(tmp_path.glob(".syn.tmp-*"))


def test_prepare_synthetic_rebuilds_changed_files(tmp_path):
    kwargs = dict(num_images=2, size=48, num_classes=2, seed=1)
    root = prepare_synthetic(tmp_path / "syn", **kwargs)
    original = (root / "train" / "train_00000.png").read_bytes()
    (root / "train" / "train_00000.png").write_bytes(b"corrupt")
    prepare_synthetic(tmp_path / "syn", **kwargs)
    assert (root / "train" / "train_00000.png").read_bytes() == original
