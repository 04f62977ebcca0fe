"""COCO evaluation on a tiny synthetic COCO folder written here (non-square images, non-contiguous ids)."""

import json
import math

import pytest
import torch
from torchvision.io import write_png

from benchmark.config import EvalConfig, ModelConfig
from benchmark.data.coco import CocoDetection
from benchmark.run.evaluate import METRIC_NAMES, coco_metrics, evaluate, predict_dataset
from benchmark.zoo import build_detector
from benchmark.zoo.base import Detector

# original-pixel xywh boxes: one small (< 32^2), one medium, one large (> 96^2) per image
BOXES = {
    1: [([10, 10, 12, 10], 3), ([40, 20, 60, 60], 7), ([70, 5, 120, 90], 3)],
    2: [([150, 50, 20, 25], 7), ([5, 5, 70, 60], 3), ([60, 2, 130, 95], 7)],
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> CocoDetection:
    root = tmp_path_factory.mktemp("coco")
    (root / "images").mkdir()
    g = torch.Generator().manual_seed(0)
    images, anns = [], []
    for image_id, boxes in BOXES.items():
        name = f"{image_id:03d}.png"
        write_png(torch.randint(0, 256, (3, 100, 200), generator=g, dtype=torch.uint8), str(root / "images" / name))
        images.append({"id": image_id, "file_name": name, "width": 200, "height": 100})
        for box, cat in boxes:
            anns.append(
                {"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "bbox": box,
                 "area": box[2] * box[3], "iscrowd": 0}
            )  # fmt: skip
    cats = [{"id": 3, "name": "tree"}, {"id": 7, "name": "snag"}]
    ann_file = root / "instances.json"
    ann_file.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return CocoDetection(ann_file, root / "images", input_size=64)  # scale 0.32: 200x100 -> 64x32


class Oracle(Detector):
    """Test double: returns each image's ground truth (found by pixel equality), optionally corrupted."""

    def __init__(self, dataset: CocoDetection, *, empty: bool = False, wrong_class: bool = False) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the module a device
        self.samples = [dataset.get(i) for i in range(len(dataset))]
        self.empty, self.wrong_class = empty, wrong_class

    def predict(self, images):
        out = []
        for image in images:
            target = next(s.target for s in self.samples if torch.equal(s.image, image))
            keep = 0 if self.empty else len(target["labels"])
            labels = 3 - target["labels"] if self.wrong_class else target["labels"]
            out.append({"boxes": target["boxes"][:keep], "scores": torch.ones(keep), "labels": labels[:keep]})
        return out

    def configure_inference(self, *, score_thresh, max_detections):
        self.configured = (score_thresh, max_detections)

    def forward_train(self, images, targets):
        raise NotImplementedError

    def extract_features(self, images):
        raise NotImplementedError


def test_perfect_detections_score_one_in_original_coordinates(dataset):
    results, seconds = predict_dataset(Oracle(dataset), dataset, batch_size=1, device="cpu", progress=False)
    assert seconds >= 0 and len(results) == 6
    first = next(r for r in results if r["image_id"] == 1 and r["category_id"] == 7)
    assert first["bbox"] == pytest.approx([40, 20, 60, 60], abs=1e-3)
    metrics = coco_metrics(dataset.coco, results)
    assert list(metrics) == list(METRIC_NAMES)
    assert metrics.pop("AR1") == pytest.approx(2 / 3)  # one box per (image, class); 2 of 3 per class fit
    assert all(v == pytest.approx(1.0) for v in metrics.values())


def test_no_detections_score_zero_without_crashing(dataset, capsys):
    results, _ = predict_dataset(Oracle(dataset, empty=True), dataset, batch_size=2, device="cpu", progress=False)
    assert results == []
    assert coco_metrics(dataset.coco, results) == dict.fromkeys(METRIC_NAMES, 0.0)
    assert capsys.readouterr().out == ""  # pycocotools kept quiet


def test_wrong_classes_score_zero(dataset):
    results, _ = predict_dataset(Oracle(dataset, wrong_class=True), dataset, batch_size=3, device="cpu", progress=False)
    assert {r["category_id"] for r in results} == {3, 7}
    assert coco_metrics(dataset.coco, results)["mAP"] == 0.0


def test_half_the_images_gives_a_partial_score(dataset):
    results, _ = predict_dataset(Oracle(dataset), dataset, batch_size=2, device="cpu", progress=False)
    metrics = coco_metrics(dataset.coco, [r for r in results if r["image_id"] == 1])
    assert 0.0 < metrics["mAP"] < 1.0 and metrics["AR100"] == pytest.approx(0.5)


def test_evaluate_applies_the_inference_settings(dataset):
    oracle = Oracle(dataset)
    metrics, seconds = evaluate(oracle, dataset, EvalConfig(score_thresh=0.2, max_detections=5), "cpu", progress=False)
    assert oracle.configured == (0.2, 5) and metrics["mAP"] == pytest.approx(1.0) and seconds >= 0


def test_real_detector_end_to_end(dataset):
    options = {"pretrained_backbone": False, "fpn_channels": 32}
    torch.manual_seed(0)
    detector = build_detector(ModelConfig(name="fcos_mnv2_fpn64", options=options), num_classes=dataset.num_classes)
    metrics, seconds = evaluate(detector, dataset, EvalConfig(max_detections=10, batch_size=2), "cpu", progress=False)
    assert set(metrics) == set(METRIC_NAMES) and all(math.isfinite(v) for v in metrics.values())
    results, _ = predict_dataset(detector, dataset, batch_size=2, device="cpu", progress=False)
    assert 0 < len(results) <= 20 and {r["category_id"] for r in results} <= {3, 7}
    for r in results:  # original coordinates: within 200x100
        x, y, w, h = r["bbox"]
        assert x >= -1e-3 and x + w <= 200 + 1e-3 and y >= -1e-3 and y + h <= 100 + 1e-3
