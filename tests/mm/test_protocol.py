"""``data.protocol: mmdet`` against mmdet 3.3 itself: the same files through mmdet's ``CocoDataset`` (its
``filter_empty_gt``/``min_size`` filter and box rule) with ``LoadImageFromFile``, ``LoadAnnotations``,
``Resize(scale=(1333, 800), keep_ratio=True)`` and ``RandomFlip``, on synthetic images of several aspect ratios and
on the real NEON tiles; and our aspect-grouped batch stream against ``AspectRatioBatchSampler``.

Tolerance: images within ONE intensity level (uint8), boxes within 1e-3 px. Both resize with bilinear sampling at
the same points (half-pixel centres, edge clamping, no antialias) and the same per-axis factors, but in fixed-point
arithmetic of different precision (OpenCV's INTER_LINEAR: 11-bit weights, rounded; torch's uint8 kernel: its own
weights and rounding), so a pixel can round to the neighbouring level; a larger difference would be a different
sampling. Boxes are float32 products of the same factors in both (we clip in the original frame, mmdet after
scaling: a float32 rounding of at most ~1e-4 px at 1333 px). The PNGs make decoding identical (lossless).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from benchmark.data.coco import CocoDetection  # noqa: E402
from benchmark.data.protocol import Resize  # noqa: E402
from benchmark.run.batches import BatchStream  # noqa: E402

USER_CACHE = os.environ.get("DFMSD_BENCH_CACHE")  # read before tests/mm/conftest.py points it elsewhere
MMDET = Resize("mmdet", 1333, 800)
# (h, w): COCO-like landscape and portrait, square, very wide/tall, larger than the scale (downscaling)
SHAPES = [(480, 640), (375, 500), (640, 427), (400, 400), (300, 1000), (100, 1600), (1500, 1100), (900, 1400)]


def _pixels(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random content with sharp edges (where rounding of the weights shows most)."""
    g = np.random.default_rng(seed)
    coarse = Image.fromarray(g.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8))
    pixels = np.asarray(coarse.resize((w, h), Image.BICUBIC)).copy()
    pixels[h // 3 : h // 2, w // 4 : w // 2] = (255, 0, 255)
    return pixels


@pytest.fixture(scope="module")
def coco_folder(tmp_path_factory) -> Path:
    """A COCO folder: the SHAPES, each with a box inside, one 0.5 px past the right border (clipped), one of width
    0.5 px (mmdet drops it) and a crowd box; then an image without annotations (dropped by filter_empty_gt), one
    with a crowd box only (kept, as mmdet does) and one of short side 20 < min_size 32 (dropped)."""
    root = tmp_path_factory.mktemp("coco-like")
    (root / "images").mkdir()
    shapes = [*SHAPES, (300, 400), (300, 400), (20, 300)]
    images = [{"id": 100 + i, "file_name": f"{i:03d}.png", "width": w, "height": h} for i, (h, w) in enumerate(shapes)]
    for img, (h, w) in zip(images, shapes):
        Image.fromarray(_pixels(h, w, img["id"])).save(root / "images" / img["file_name"])
    boxes = []
    for img, (h, w) in zip(images, SHAPES):
        boxes += [
            (img, 1, [0.1 * w, 0.2 * h, 0.5 * w, 0.4 * h], 0),
            (img, 2, [0.7 * w, 0.6 * h, 0.3 * w + 0.5, 0.4 * h], 0),
            (img, 1, [0.3 * w, 0.3 * h, 0.5, 0.2 * h], 0),
            (img, 1, [1.0, 1.0, 9.0, 9.0], 1),
        ]
    boxes += [(images[len(SHAPES) + 1], 2, [5.0, 5.0, 50.0, 50.0], 1), (images[-1], 2, [5.0, 5.0, 10.0, 10.0], 0)]
    anns = [
        {"id": k, "image_id": img["id"], "category_id": cat, "bbox": bbox, "iscrowd": crowd, "area": bbox[2] * bbox[3]}
        for k, (img, cat, bbox, crowd) in enumerate(boxes, start=1)
    ]
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    (root / "instances.json").write_text(json.dumps(data))
    return root


def mmdet_dataset(ann_file: Path, image_dir: Path, classes: tuple[str, ...], flip: bool):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules

    register_all_modules()
    pipeline = [
        {"type": "LoadImageFromFile"},
        {"type": "LoadAnnotations", "with_bbox": True},
        {"type": "Resize", "scale": (1333, 800), "keep_ratio": True},
        {"type": "RandomFlip", "prob": 1.0 if flip else 0.0},
    ]
    return CocoDataset(
        ann_file=str(ann_file),
        data_prefix={"img": str(image_dir) + "/"},
        metainfo={"classes": classes},
        filter_cfg={"filter_empty_gt": True, "min_size": 32},
        pipeline=pipeline,
    )


def compare(ours: CocoDetection, theirs, flip: bool) -> dict[str, float]:
    """Every sample of both: same ids, shapes, labels; images within 1 level, boxes within 1e-3 px."""
    assert len(ours) == len(theirs)
    worst = {"level": 0.0, "px": 0.0, "differing": 0.0}
    for i in range(len(ours)):
        s = ours.get(i, flip)
        ref = theirs[i]
        assert s.image_id == ref["img_id"] and s.image.dtype == torch.uint8
        img = torch.from_numpy(np.ascontiguousarray(ref["img"][..., ::-1])).permute(2, 0, 1)  # BGR HWC -> RGB CHW
        assert tuple(s.image.shape) == tuple(img.shape), (ref["img_path"], s.image.shape, img.shape)
        diff = (s.image.int() - img.int()).abs()
        assert int(diff.max()) <= 1, ref["img_path"]
        keep = ~torch.as_tensor(ref["gt_ignore_flags"], dtype=torch.bool)
        boxes = ref["gt_bboxes"].tensor[keep]
        labels = torch.as_tensor(ref["gt_bboxes_labels"])[keep].long() + 1
        assert torch.equal(s.target["labels"], labels)
        torch.testing.assert_close(s.target["boxes"], boxes, atol=1e-3, rtol=0)
        sx, sy = ref["scale_factor"]
        assert s.scale_factor == (sx, sy) and bool(ref["flip"]) == flip
        worst["level"] = max(worst["level"], float(diff.max()))
        worst["differing"] = max(worst["differing"], float((diff > 0).float().mean()))
        if len(boxes):
            worst["px"] = max(worst["px"], float((s.target["boxes"] - boxes).abs().max()))
    return worst


@pytest.mark.parametrize("flip", [False, True], ids=["noflip", "flip"])
def test_synthetic_aspect_ratios_match_mmdet(coco_folder, flip):
    ours = CocoDetection(coco_folder / "instances.json", coco_folder / "images", resize=MMDET, filter_empty_gt=True)
    theirs = mmdet_dataset(coco_folder / "instances.json", coco_folder / "images", ("a", "b"), flip)
    assert len(ours) == len(SHAPES) + 1 and ours.num_filtered == 2  # the empty and the 20-px image are filtered
    shapes = {ours.image_info(i)["id"]: ours.resized_shape(i) for i in range(len(ours))}
    assert shapes[100] == (800, 1067) and shapes[101] == (800, 1067) and shapes[102] == (1199, 800)
    assert shapes[104] == (400, 1333) and shapes[106] == (1091, 800)  # 300x1000: long side capped; 1500x1100: down
    worst = compare(ours, theirs, flip)
    assert worst["level"] == 1  # the fixed-point roundings do differ somewhere, by one level at most


@pytest.fixture(scope="module")
def neon_root() -> Path:
    root = Path(USER_CACHE).expanduser() / "neon" if USER_CACHE else Path.home() / ".cache" / "dfmsd-bench" / "neon"
    if not (root / "annotations" / "instances_train.json").is_file():
        pytest.skip(f"NEON tiles not prepared in {root} (dfmsd-bench data prepare neon)")
    return root


@pytest.mark.parametrize("flip", [False, True], ids=["noflip", "flip"])
def test_neon_tiles_match_mmdet(neon_root, flip):
    ann, images = neon_root / "annotations" / "instances_train.json", neon_root / "train"
    ours = CocoDetection(ann, images, resize=MMDET, filter_empty_gt=True)
    theirs = mmdet_dataset(ann, images, tuple(ours.class_names), flip)
    assert len(ours) == 40 and ours.resized_shape(0) == (800, 800)
    compare(ours, theirs, flip)


def test_aspect_grouped_stream_is_mmdets_batch_sampler(coco_folder):
    """Same index order in, same batches out: our stream with groups against AspectRatioBatchSampler fed the
    stream's own index sequence (flips off, so the stream draws only the permutations)."""
    from mmdet.datasets.samplers import AspectRatioBatchSampler
    from torch.utils.data import Sampler

    ours = CocoDetection(coco_folder / "instances.json", coco_folder / "images", resize=MMDET, filter_empty_gt=True)
    groups = ours.aspect_groups()
    assert set(groups) == {0, 1}
    seed = torch.Generator().manual_seed(3)
    order = [i for _ in range(20) for i in torch.randperm(len(ours), generator=seed).tolist()]

    class Sequence(Sampler):
        dataset = type("D", (), {"get_data_info": lambda self, i: copy.deepcopy(ours.image_info(i))})()

        def __iter__(self):
            return iter(order)

        def __len__(self):
            return len(order)

    theirs = list(AspectRatioBatchSampler(Sequence(), batch_size=2))[:40]  # before mmdet's end-of-data leftovers
    assert all(len({groups[i] for i in batch}) == 1 for batch in theirs)
    stream = BatchStream(len(ours), 2, hflip=False, generator=torch.Generator().manual_seed(3), groups=groups)
    assert [[i for i, _ in stream.next_batch()] for _ in theirs] == theirs


def test_a_run_trains_and_evaluates_under_the_mmdet_protocol(tmp_path):
    """uint8 channels-last samples through a data worker, the mmdet adapter, training, resume-free end, evaluation."""
    import dataclasses
    import math

    from benchmark.config import EvalConfig, RunConfig, TrackingConfig, TrainConfig
    from benchmark.run.record import RunRecord
    from benchmark.run.train import train_run

    from .conftest import DATA, tiny

    data = dataclasses.replace(DATA, protocol="mmdet", scale=(128, 96), hflip=True)  # 64 px -> 96 px
    train = TrainConfig(iterations=3, optimizer="adamw", lr=1e-3, warmup_iters=1, num_threads=1,
                        num_workers=1)  # fmt: skip
    evals, tracking = EvalConfig(batch_size=4, eval_teacher=False), TrackingConfig(wandb=False)
    cfg = RunConfig(name="mm-protocol", data=data, model=tiny("tiny_retinanet"), train=train, eval=evals,
                    tracking=tracking)  # fmt: skip
    metrics = train_run(cfg, tmp_path / "r", progress=False)
    assert RunRecord(tmp_path / "r").is_done() and all(math.isfinite(v) for v in metrics.final.values())
    assert all(math.isfinite(row["loss"]) for row in metrics.curves["train"])
