"""Our COCO evaluation (benchmark.run.evaluate.coco_metrics, pycocotools) against mmdet's CocoMetric on the same
detections of a tiny synthetic COCO split (CocoMetric rounds to 3 decimals). CocoMetric's default
``proposal_nums`` (100, 300, 1000) makes its AP use maxDets 1000 and its AR keys AR@100/300/1000: with at
most 100 detections per image those equal pycocotools' numbers at maxDets 100; AR@1 and AR@10 have no
CocoMetric counterpart, so 10 of the 12 numbers are compared."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from pycocotools.coco import COCO  # noqa: E402

from benchmark.data.synthetic import make_synthetic_coco  # noqa: E402
from benchmark.run.evaluate import METRIC_NAMES, coco_metrics  # noqa: E402

PAIRS = {  # ours -> CocoMetric's key
    "mAP": "mAP", "AP50": "mAP_50", "AP75": "mAP_75", "APs": "mAP_s", "APm": "mAP_m", "APl": "mAP_l",
    "AR100": "AR@100", "ARs": "AR_s@1000", "ARm": "AR_m@1000", "ARl": "AR_l@1000",
}  # fmt: skip


def detections(coco: COCO, seed: int = 0) -> dict[int, dict[str, np.ndarray]]:
    """Per image: every GT box jittered (label sometimes wrong, some missed) plus random false positives."""
    rng = np.random.default_rng(seed)
    cat_ids = sorted(coco.getCatIds())
    out = {}
    for img_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(img_id)[0]
        boxes, scores, labels = [], [], []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
            if rng.random() < 0.15:
                continue  # missed
            x, y, w, h = ann["bbox"]
            jitter = rng.normal(0, 0.12, 4) * [w, h, w, h]
            boxes.append([x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]])
            scores.append(rng.uniform(0.3, 1.0))
            label = cat_ids.index(ann["category_id"])
            labels.append(label if rng.random() > 0.1 else int(rng.integers(len(cat_ids))))
        for _ in range(int(rng.integers(0, 6))):
            x0, y0 = rng.uniform(0, info["width"] - 8), rng.uniform(0, info["height"] - 8)
            boxes.append([x0, y0, x0 + rng.uniform(4, 60), y0 + rng.uniform(4, 60)])
            scores.append(rng.uniform(0.0, 0.6))
            labels.append(int(rng.integers(len(cat_ids))))
        out[img_id] = {
            "bboxes": np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
            "scores": np.asarray(scores, dtype=np.float32),
            "labels": np.asarray(labels, dtype=np.int64),
        }
    return out


def test_our_coco_metrics_equal_mmdet_cocometric(tmp_path):
    from mmdet.evaluation import CocoMetric

    make_synthetic_coco(tmp_path, num_images=12, size=160, num_classes=3, seed=5, splits=("test",))
    ann_file = tmp_path / "annotations" / "instances_test.json"
    coco = COCO(str(ann_file))
    cat_ids = sorted(coco.getCatIds())
    dets = detections(coco)

    ours = []  # benchmark.run.evaluate's result format: xywh, category ids
    for img_id, d in dets.items():
        for (x1, y1, x2, y2), score, label in zip(d["bboxes"].tolist(), d["scores"].tolist(), d["labels"].tolist()):
            box = [x1, y1, x2 - x1, y2 - y1]
            ours.append({"image_id": img_id, "category_id": cat_ids[label], "bbox": box, "score": score})
    mine = coco_metrics(coco, ours)

    metric = CocoMetric(ann_file=str(ann_file), metric="bbox", metric_items=list(PAIRS.values()))
    names = [c["name"] for c in sorted(json.loads(ann_file.read_text())["categories"], key=lambda c: c["id"])]
    metric.dataset_meta = {"classes": names}
    samples = []
    for img_id, d in dets.items():
        info = coco.loadImgs(img_id)[0]
        pred = {k: torch.from_numpy(v) for k, v in d.items()}
        samples.append({"img_id": img_id, "ori_shape": (info["height"], info["width"]), "pred_instances": pred})
    metric.process({}, samples)
    theirs = metric.compute_metrics(metric.results)

    assert 0.2 < mine["mAP"] < 0.95  # a non-trivial case: misses, wrong labels, false positives
    assert mine["APs"] >= 0 and mine["APm"] >= 0  # both size ranges present
    assert set(PAIRS) | {"AR1", "AR10"} == set(METRIC_NAMES)
    assert all(len(d["scores"]) <= 100 for d in dets.values())
    for ours_key, their_key in PAIRS.items():
        assert mine[ours_key] == pytest.approx(theirs[f"bbox_{their_key}"], abs=5e-4), ours_key
