"""COCO-style box evaluation of a :class:`~benchmark.zoo.base.Detector` on a dataset split.

Predictions are made on the resized network inputs and mapped back to ORIGINAL image coordinates (divided
by the sample's per-axis ``scale_factor``), with labels mapped to the dataset's category ids, then scored by
pycocotools' ``COCOeval`` against the untouched annotation index (``dataset.coco``). The 12 standard numbers keep
pycocotools' convention: -1 where a size range has no ground truth. In a multi-process run every rank
predicts its share of the images (``rank::world``) and rank 0 scores the gathered detections.
"""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any, Protocol

import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from tqdm import tqdm

from benchmark.config import EvalConfig
from benchmark.data.coco import to_float
from benchmark.run.distributed import SINGLE, DistContext
from benchmark.zoo.base import Detector

METRIC_NAMES = ("mAP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


class EvalDataset(Protocol):
    """What evaluation needs of a dataset (``benchmark.data.CocoDetection`` has it)."""

    coco: COCO
    label_to_cat_id: dict[int, int]

    def __len__(self) -> int: ...

    def get(self, index: int, hflip: bool = False) -> Any: ...


def predict_dataset(
    detector: Detector,
    dataset: EvalDataset,
    *,
    batch_size: int,
    device: torch.device | str,
    progress: bool = True,
    indices: range | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """COCO result dicts (``image_id``, ``category_id``, ``bbox`` xywh in original pixels, ``score``) for every
    image of ``dataset`` (or those at ``indices``), and the detector's seconds per image (``predict`` only,
    data loading excluded).

    ``detector`` must already be on ``device``; its training/eval mode is left as it was.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    results: list[dict[str, Any]] = []
    seconds = 0.0
    todo = range(len(dataset)) if indices is None else indices
    n = len(todo)
    with tqdm(total=n, desc="eval", unit="img", disable=not progress, leave=False) as bar:
        for start in range(0, n, batch_size):
            samples = [dataset.get(i) for i in todo[start : start + batch_size]]
            images = [to_float(s.image.to(device, non_blocking=True)) for s in samples]
            _synchronize(device)
            t0 = time.perf_counter()
            detections = detector.predict(images)
            _synchronize(device)
            seconds += time.perf_counter() - t0
            for sample, det in zip(samples, detections):
                results.extend(_to_coco(sample, det, dataset.label_to_cat_id))
            bar.update(len(samples))
    return results, seconds / max(n, 1)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _to_coco(sample: Any, det: dict[str, torch.Tensor], label_to_cat_id: dict[int, int]) -> list[dict[str, Any]]:
    sx, sy = sample.scale_factor
    boxes = det["boxes"].detach().float().cpu() / torch.tensor([sx, sy, sx, sy], dtype=torch.float32)
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1).tolist()
    scores = det["scores"].detach().float().cpu().tolist()
    labels = det["labels"].detach().cpu().tolist()
    return [
        {"image_id": sample.image_id, "category_id": label_to_cat_id[int(lab)], "bbox": box, "score": score}
        for box, score, lab in zip(xywh, scores, labels)
    ]


def coco_metrics(
    coco_gt: COCO, results: list[dict[str, Any]], *, image_ids: list[int] | None = None
) -> dict[str, float]:
    """The 12 ``COCOeval`` box numbers (``METRIC_NAMES``) over every image of ``coco_gt`` (or only ``image_ids``);
    no detections scores 0 (pycocotools' prints silenced)."""
    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            coco_dt = coco_gt.loadRes([dict(r) for r in results])  # loadRes edits the dicts
        else:  # loadRes rejects an empty list; an empty result set is a valid (zero) answer
            coco_dt = COCO()
            coco_dt.dataset = {"images": coco_gt.dataset.get("images", []), "annotations": []}
            coco_dt.dataset["categories"] = coco_gt.dataset.get("categories", [])
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        if image_ids is not None:
            evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(value) for name, value in zip(METRIC_NAMES, evaluator.stats)}


def evaluate(
    detector: Detector,
    dataset: EvalDataset,
    cfg: EvalConfig,
    device: torch.device | str,
    *,
    progress: bool = True,
    dist: DistContext = SINGLE,
) -> tuple[dict[str, float], float]:
    """``cfg``'s inference settings, predictions on every image, COCO metrics; and seconds per image.

    With several ranks (a collective: every rank calls it) each predicts ``rank::world``; the metrics are
    computed once on rank 0 from the gathered detections and returned on every rank, with rank 0's timing.
    """
    detector.configure_inference(score_thresh=cfg.score_thresh, max_detections=cfg.max_detections)
    results, seconds_per_image = predict_dataset(
        detector,
        dataset,
        batch_size=cfg.batch_size,
        device=device,
        progress=progress and dist.is_main,
        indices=range(dist.rank, len(dataset), dist.world_size),
    )
    gathered = dist.gather(results)
    metrics = coco_metrics(dataset.coco, [r for part in gathered for r in part]) if dist.is_main else None
    return dist.broadcast(metrics), dist.broadcast(seconds_per_image)
