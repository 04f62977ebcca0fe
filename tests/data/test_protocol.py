"""``data.protocol``: the mmdet resize rule, box rule and training filter, aspect-grouped batches, and the
run ids (native keeps every id; the unread size field is no part of the id). The parity with mmdet's own
transforms is tests/mm/test_protocol.py."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.config import DataConfig, RunConfig
from benchmark.data.coco import CocoDetection, to_float
from benchmark.data.protocol import Resize, mmdet_keeps_box, mmdet_train_images
from benchmark.launch.cache_budget import known_train_shapes, train_sizes
from benchmark.run.batches import BatchStream
from benchmark.run.evaluate import coco_metrics, predict_dataset
from benchmark.run.resolve import run_id
from benchmark.run.validate import data_problems
from benchmark.zoo.base import Detector

MMDET = Resize("mmdet", 1333, 800)


def test_mmdet_resize_rule():
    assert MMDET.shape(480, 640) == (800, 1067) and MMDET.shape(375, 500) == (800, 1067)
    assert MMDET.shape(640, 427) == (1199, 800) and MMDET.shape(400, 400) == (800, 800)
    assert MMDET.shape(300, 1000) == (400, 1333)  # the long side caps
    assert MMDET.box_factors(480, 640) == (1067 / 640, 800 / 480)
    assert Resize.of(DataConfig(protocol="mmdet", scale=(800, 1333))) == MMDET  # (long, short) in either order
    native = Resize.of(DataConfig(input_size=400))
    assert native.shape(100, 200) == (200, 400) and native.box_factors(100, 200) == (2.0, 2.0)
    assert native.tag == "s400" and native.key() == 400  # the cache keys of caches built before protocols
    assert MMDET.tag == "m1333x800" and MMDET.key() == ["mmdet", 1333, 800]


def test_mmdet_box_rule_and_training_filter():
    ann = {"bbox": [10, 10, 5, 5], "area": 25}
    assert mmdet_keeps_box(ann, 100, 100)
    assert not mmdet_keeps_box({**ann, "bbox": [10, 10, 0.5, 5]}, 100, 100)  # narrower than 1 px
    assert not mmdet_keeps_box({**ann, "bbox": [100, 10, 5, 5]}, 100, 100)  # outside the image
    assert not mmdet_keeps_box({**ann, "area": 0}, 100, 100)
    assert not mmdet_keeps_box({**ann, "ignore": True}, 100, 100)
    images = [{"id": i, "width": w, "height": h} for i, (w, h) in enumerate([(50, 50), (50, 50), (50, 20), (40, 40)])]
    anns = [{"image_id": 0}, {"image_id": 2}, {"image_id": 3, "iscrowd": 1}]
    assert [img["id"] for img in mmdet_train_images(images, anns)] == [0, 3]  # 1: no annotation; 2: 20 px < 32


@pytest.fixture
def folder(tmp_path):
    """Three images: 640x480 with a box, 300x400 portrait with a box, 640x480 without annotations."""
    (tmp_path / "img").mkdir()
    g = np.random.default_rng(0)
    images = []
    for i, (h, w) in enumerate([(480, 640), (400, 300), (480, 640)]):
        Image.fromarray(g.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / "img" / f"{i}.png")
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": w, "height": h})
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [64, 48, 320, 240], "area": 320 * 240, "iscrowd": 0},
        {"id": 2, "image_id": 2, "category_id": 1, "bbox": [30, 40, 150, 200], "area": 150 * 200, "iscrowd": 0},
    ]
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}))
    return ann, tmp_path / "img"


def test_mmdet_samples(folder):
    ann, img = folder
    ds = CocoDetection(ann, img, resize=MMDET, filter_empty_gt=True)
    assert len(ds) == 2 and ds.num_filtered == 1 and ds.aspect_groups() == [1, 0]
    s = ds.get(0, hflip=True)
    assert s.image.dtype == torch.uint8 and tuple(s.image.shape) == (3, 800, 1067)
    assert s.image.stride() == (1, 3 * 1067, 3)  # channels-last memory, as decoded and resized: no transposing copy
    assert s.scale_factor == (1067 / 640, 800 / 480)
    fx, fy = s.scale_factor
    expected = torch.tensor([[1067 - 384 * fx, 48 * fy, 1067 - 64 * fx, 288 * fy]], dtype=torch.float32)
    torch.testing.assert_close(s.target["boxes"], expected)
    f = to_float(s.image)
    assert f.dtype == torch.float32 and float(f.max()) <= 1.0
    assert torch.equal((f * 255).round().to(torch.uint8), s.image)
    assert to_float(f) is f
    assert len(CocoDetection(ann, img, resize=MMDET)) == 3  # test splits are not filtered


class _Truth(Detector):
    """Returns the ground truth of the samples it is shown, in order (resized pixels)."""

    def __init__(self, dataset):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.queue = [dataset.get(i).target for i in range(len(dataset))]

    def predict(self, images):
        out = [self.queue.pop(0) for _ in images]
        return [{"boxes": t["boxes"], "scores": torch.ones(len(t["boxes"])), "labels": t["labels"]} for t in out]

    def configure_inference(self, *, score_thresh, max_detections):
        pass

    def forward_train(self, images, targets):
        raise NotImplementedError

    def extract_features(self, images):
        raise NotImplementedError


def test_mmdet_detections_map_back_per_axis(folder):
    ann, img = folder
    ds = CocoDetection(ann, img, resize=MMDET)
    results, _ = predict_dataset(_Truth(ds), ds, batch_size=2, device="cpu", progress=False)
    assert results[0]["bbox"] == pytest.approx([64, 48, 320, 240], abs=1e-3)
    assert coco_metrics(ds.coco, results)["mAP"] == pytest.approx(1.0)


def _old_stream(n: int, batch: int, seed: int, steps: int) -> list[list[tuple[int, bool]]]:
    """The stream as it was before groups existed (its draw order must not change)."""
    g, perm, pos, out = torch.Generator().manual_seed(seed), [], 0, []
    for _ in range(steps):
        b = []
        for _ in range(batch):
            if pos >= len(perm):
                perm, pos = torch.randperm(n, generator=g).tolist(), 0
            b.append((perm[pos], bool(torch.rand((), generator=g) < 0.5)))
            pos += 1
        out.append(b)
    return out


def test_stream_without_groups_is_unchanged_and_grouped_stream_resumes_exactly():
    stream = BatchStream(7, 3, hflip=True, generator=torch.Generator().manual_seed(5))
    assert [stream.next_batch() for _ in range(9)] == _old_stream(7, 3, 5, 9)
    assert "buckets" not in stream.state_dict()
    groups = [0, 1, 1, 0, 1, 1, 1]
    grouped = BatchStream(7, 2, hflip=True, generator=torch.Generator().manual_seed(5), groups=groups)
    first = [grouped.next_batch() for _ in range(5)]
    assert all(len({groups[i] for i, _ in b}) == 1 and len(b) == 2 for b in first)
    state = grouped.state_dict()
    rest = [grouped.next_batch() for _ in range(12)]
    again = BatchStream(7, 2, hflip=True, generator=torch.Generator(), groups=groups)
    again.load_state_dict(state)
    assert [again.next_batch() for _ in range(12)] == rest
    counts = np.bincount([i for b in first + rest for i, _ in b], minlength=7)
    assert counts.min() >= 3  # nothing starves: every image comes round epoch after epoch


def test_run_ids_and_validation():
    plain = RunConfig()
    data = plain.data
    same = [
        dataclasses.replace(plain, data=dataclasses.replace(data, protocol="native")),
        dataclasses.replace(plain, data=dataclasses.replace(data, scale=(1000, 600))),  # native does not read it
    ]
    assert {run_id(c) for c in same} == {run_id(plain)}
    mm = dataclasses.replace(plain, data=dataclasses.replace(data, protocol="mmdet"))
    assert run_id(mm) != run_id(plain)
    assert run_id(dataclasses.replace(mm, data=dataclasses.replace(mm.data, input_size=1333))) == run_id(mm)
    assert run_id(dataclasses.replace(mm, data=dataclasses.replace(mm.data, scale=(1000, 600)))) != run_id(mm)
    bad = data_problems(dataclasses.replace(data, protocol="detectron", scale=(1333,)))
    assert [k for k, _ in bad] == ["data.protocol", "data.scale"]


def test_planned_shapes_use_the_filtered_images(folder):
    ann, img = folder
    root = ann.parent
    cfg = DataConfig(dataset="coco", root=str(root), train_ann=ann.name, train_images=img.name, protocol="mmdet")
    sizes = train_sizes(cfg)
    assert sizes.listed == 3 and len(sizes.sizes) == 2
    assert known_train_shapes(cfg) == [(800, 1067), (1067, 800)]
    assert len(known_train_shapes(dataclasses.replace(cfg, protocol="native"))) == 3
