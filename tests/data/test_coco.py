"""CocoDetection: label mapping, crowd handling, resize + hflip box math, determinism, collate, errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from benchmark.config import DataConfig
from benchmark.data import Batch, CocoDetection, DatasetError, build_dataset, collate
from benchmark.data.coco import hflip_boxes, resized_shape, truncated


def test_labels_sorted_by_category_id_and_crowd_ignored(tmp_path, write_coco, small_coco):
    ann = write_coco(tmp_path, *small_coco)
    ds = CocoDetection(ann, tmp_path / "train", input_size=200)
    assert ds.num_classes == 2
    assert ds.class_names == ["three", "seven"]
    assert ds.label_to_cat_id == {1: 3, 2: 7}
    assert ds.image_ids == [11, 12]
    s = ds[0]
    assert s.target["labels"].tolist() == [2, 1]  # crowd box (id 3) left out
    assert s.target["boxes"].dtype == torch.float32 and s.target["labels"].dtype == torch.int64
    assert len(ds.coco.getAnnIds(imgIds=[11])) == 3  # evaluation index keeps the crowd box
    assert ds.coco.anns[4]["area"] == 100 and ds.coco.anns[4]["iscrowd"] == 0  # defaults filled in


def test_resize_keeps_aspect_and_scales_boxes(tmp_path, write_coco, small_coco):
    ann = write_coco(tmp_path, *small_coco)
    ds = CocoDetection(ann, tmp_path / "train", input_size=100)
    s = ds.get(0)
    assert s.image.shape == (3, 50, 100) and s.image.dtype == torch.float32
    assert float(s.image.min()) >= 0.0 and float(s.image.max()) <= 1.0
    assert s.scale == 0.5 and s.image_id == 11 and s.hflip is False
    torch.testing.assert_close(s.target["boxes"], torch.tensor([[5.0, 15.0, 25.0, 25.0], [50.0, 0.0, 100.0, 50.0]]))
    # the red block (x 10..50, y 30..50 originally) is at x 5..25, y 15..25 after resizing
    assert float(s.image[0, 20, 15]) == pytest.approx(1.0) and float(s.image[0, 20, 40]) == pytest.approx(0.0)


def test_hflip_mirrors_image_and_boxes(tmp_path, write_coco, small_coco):
    ann = write_coco(tmp_path, *small_coco)
    ds = CocoDetection(ann, tmp_path / "train", input_size=100)
    plain, flipped = ds.get(0, hflip=False), ds.get(0, hflip=True)
    assert flipped.hflip is True
    torch.testing.assert_close(flipped.image, plain.image.flip(-1))
    torch.testing.assert_close(
        flipped.target["boxes"], torch.tensor([[75.0, 15.0, 95.0, 25.0], [0.0, 0.0, 50.0, 50.0]])
    )
    torch.testing.assert_close(hflip_boxes(flipped.target["boxes"], 100), plain.target["boxes"])
    # the flipped red block sits under the flipped box
    assert float(flipped.image[0, 20, 85]) == pytest.approx(1.0)


def test_sample_is_deterministic(tmp_path, write_coco, small_coco):
    ann = write_coco(tmp_path, *small_coco)
    ds = CocoDetection(ann, tmp_path / "train", input_size=77)
    a, b = ds.get(1, True), ds.get(1, True)
    assert torch.equal(a.image, b.image) and torch.equal(a.target["boxes"], b.target["boxes"])


def test_resized_shape_longest_side():
    assert resized_shape(100, 200, 400) == (200, 400, 2.0)
    h, w, scale = resized_shape(1035, 1249, 400)
    assert w == 400 and h == round(1035 * 400 / 1249) and scale == pytest.approx(400 / 1249)


def test_collate_and_max_images(tmp_path, write_coco, small_coco):
    ann = write_coco(tmp_path, *small_coco)
    ds = CocoDetection(ann, tmp_path / "train", input_size=100, max_images=1)
    assert len(ds) == 1
    full = CocoDetection(ann, tmp_path / "train", input_size=100)
    batch = collate([full.get(0), full.get(1, hflip=True)])
    assert isinstance(batch, Batch)
    assert batch.image_ids == [11, 12] and batch.scales == [0.5, 0.5] and batch.hflips == [False, True]
    assert [t["labels"].tolist() for t in batch.targets] == [[2, 1], [1]]
    assert [tuple(i.shape) for i in batch.images] == [(3, 50, 100), (3, 50, 100)]


def _expect_one_line(match: str, ann: Path, image_dir: Path) -> str:
    with pytest.raises(DatasetError, match=match) as info:
        CocoDetection(ann, image_dir)
    message = str(info.value)
    assert "\n" not in message
    return message


def _mutated(tmp_path, write_coco, small_coco, mutate) -> Path:
    data, images = copy.deepcopy(small_coco)
    mutate(data)
    return write_coco(tmp_path, data, images)


def test_error_missing_json(tmp_path):
    message = _expect_one_line("annotation file not found", tmp_path / "nope.json", tmp_path)
    assert "nope.json" in message


def test_error_broken_json(tmp_path, write_coco, small_coco):
    ann = write_coco(tmp_path, *small_coco)
    ann.write_text('{"images": [')
    assert str(ann) in _expect_one_line("broken JSON at line 1", ann, tmp_path / "train")


def test_error_missing_image_file(tmp_path, write_coco, small_coco):
    ann = write_coco(tmp_path, *small_coco)
    (tmp_path / "train" / "b.png").unlink()
    message = _expect_one_line("image file not found", ann, tmp_path / "train")
    assert "b.png" in message and "image id 12" in message


def test_error_box_outside_image(tmp_path, write_coco, small_coco):
    ann = _mutated(tmp_path, write_coco, small_coco, lambda d: d["annotations"][0].update(bbox=[180, 30, 25, 10]))
    message = _expect_one_line("lies outside the 200x100 image", ann, tmp_path / "train")
    assert str(ann) in message and "annotation id 1" in message


def test_box_within_tolerance_is_clipped(tmp_path, write_coco, small_coco):
    ann = _mutated(tmp_path, write_coco, small_coco, lambda d: d["annotations"][0].update(bbox=[180, 30, 20.8, 10]))
    s = CocoDetection(ann, tmp_path / "train", input_size=200)[0]
    assert float(s.target["boxes"][0, 2]) == 200.0


def test_error_non_positive_box(tmp_path, write_coco, small_coco):
    ann = _mutated(tmp_path, write_coco, small_coco, lambda d: d["annotations"][1].update(bbox=[10, 10, 5, 0]))
    message = _expect_one_line("non-positive size", ann, tmp_path / "train")
    assert str(ann) in message and "annotation id 2" in message
    dropped = CocoDetection(ann, tmp_path / "train", drop_degenerate=True)
    assert dropped.num_dropped == 1 and dropped[0].target["labels"].tolist() == [2]


def test_error_empty_categories(tmp_path, write_coco, small_coco):
    ann = _mutated(tmp_path, write_coco, small_coco, lambda d: d.update(categories=[]))
    assert str(ann) in _expect_one_line("'categories' is empty", ann, tmp_path / "train")


def test_error_unknown_category(tmp_path, write_coco, small_coco):
    ann = _mutated(tmp_path, write_coco, small_coco, lambda d: d["annotations"][0].update(category_id=99))
    assert "annotation id 1" in _expect_one_line("unknown category_id 99", ann, tmp_path / "train")


def test_error_missing_key(tmp_path, write_coco, small_coco):
    ann = _mutated(tmp_path, write_coco, small_coco, lambda d: d["images"][1].pop("width"))
    _expect_one_line(r"images\[1\]: missing key 'width'", ann, tmp_path / "train")


def test_error_image_size_mismatch(tmp_path, write_coco, small_coco):
    ann = _mutated(tmp_path, write_coco, small_coco, lambda d: d["images"][0].update(width=201))
    ds = CocoDetection(ann, tmp_path / "train")
    with pytest.raises(DatasetError, match=r"a.png: image is 200x100 but .* says 201x100"):
        ds[0]


def test_build_dataset_synthetic_is_cached(isolated_cache):
    cfg = DataConfig(dataset="synthetic", synthetic_images=3, synthetic_size=64, max_images=2, input_size=96)
    train, test = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    assert (len(train), len(test)) == (2, 3)
    assert train.num_classes == 3 and train[0].image.shape == (3, 96, 96)
    folders = list((isolated_cache / "synthetic").iterdir())
    assert len([f for f in folders if f.is_dir()]) == 1


def test_build_dataset_coco_uses_config_paths(tmp_path, write_coco, small_coco):
    write_coco(tmp_path, *small_coco)
    cfg = DataConfig(
        dataset="coco", root=str(tmp_path), test_ann="annotations/instances_train.json", test_images="train"
    )
    assert len(build_dataset(cfg, "test")) == 2
    with pytest.raises(DatasetError, match="data.root: required"):
        build_dataset(DataConfig(dataset="coco"), "train")
    with pytest.raises(DatasetError, match="names no validation split"):
        build_dataset(cfg, "val")


def test_build_dataset_coco_drops_degenerate_with_warning(tmp_path, write_coco, small_coco):
    data, images = copy.deepcopy(small_coco)
    data["annotations"][1]["bbox"] = [10, 10, 5, 0]
    write_coco(tmp_path, data, images)
    cfg = DataConfig(dataset="coco", root=str(tmp_path))
    with pytest.warns(UserWarning, match="1 box"):
        ds = build_dataset(cfg, "train")
    assert json.loads((tmp_path / "annotations" / "instances_train.json").read_text()) == data
    assert ds[0].target["labels"].tolist() == [2]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_told_from_complete_ones(tmp_path, fmt):
    """A file cut off before its end marker is truncated; a complete one is not, even with trailing bytes after
    the marker (padding, appended metadata); other formats are not judged."""
    from PIL import Image

    path = tmp_path / f"im.{fmt.lower()}"
    Image.new("RGB", (96, 64), (20, 140, 60)).save(path, fmt)
    data = path.read_bytes()
    assert not truncated(path)
    path.write_bytes(data + bytes(200))
    assert not truncated(path)
    path.write_bytes(data[: len(data) - 20])
    assert truncated(path)
    other = tmp_path / "im.bmp"
    Image.new("RGB", (8, 8)).save(other, "BMP")
    other.write_bytes(other.read_bytes()[:30])
    assert not truncated(other)
