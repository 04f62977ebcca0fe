"""The parts of a run's stage, built one way for everyone: the trainer, the cache node, the mask figure and the
speed benchmark call these instead of reaching into the trainer.

* :func:`teacher_weights` finds a stage's teacher weights and refuses a teacher that is not fit to distil from
  (the *teacher gate*): a teacher run that is not done, one whose recorded mAP is below
  ``distill.min_teacher_map`` (validation mAP when the data has a validation split, else test), or a weights
  file that is not the one its record evaluated (sha256 recorded in the teacher's metrics.json);
* :func:`build_teacher` loads it frozen; :func:`build_criterion` builds the stage's multi-level loss from the
  resolved options; :func:`to_device` moves a batch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from benchmark.run.failures import TeacherRejected
from benchmark.run.record import RunRecord
from benchmark.run.resolve import ResolvedRun, ResolvedStage


def teacher_weights(stage: ResolvedStage, runs_root: Path, *, min_map: float | None = None) -> Path:
    """The stage teacher's weights file: its explicit checkpoint, else its teacher run's final weights, checked
    by the teacher gate (see the module docstring); :class:`TeacherRejected` with one line otherwise."""
    from benchmark.cache.key import file_sha256

    if stage.teacher.checkpoint:
        path = Path(stage.teacher.checkpoint).expanduser()
        if not path.is_file():
            raise TeacherRejected(f"distill teacher checkpoint not found: {path}")
        return path
    tid = stage.teacher_run
    record = RunRecord(Path(runs_root) / str(tid))
    if not record.is_done() or not record.final_weights.is_file():
        raise TeacherRejected(f"teacher run {tid} is not done: run it first (or use dfmsd-bench run ...)")
    metrics = record.read_metrics()
    split = "val" if metrics is not None and metrics.final_val else "test"
    teacher_map = None if metrics is None else metrics.map(split)
    if min_map is not None and (teacher_map is None or teacher_map < min_map):
        shown = "none" if teacher_map is None else f"{teacher_map:.4f}"
        raise TeacherRejected(
            f"teacher run {tid} has {split} mAP {shown}, below distill.min_teacher_map={min_map:g}: it did not learn "
            "(see its log.txt); delete its run directory to retrain it, or lower distill.min_teacher_map"
        )
    if metrics is not None and metrics.weights_sha256 and file_sha256(record.final_weights) != metrics.weights_sha256:
        raise TeacherRejected(
            f"teacher run {tid}: {record.final_weights} is not the weights file its record evaluated "
            "(sha256 differs from metrics.json weights_sha256); retrain the teacher"
        )
    return record.final_weights


def build_teacher(stage: ResolvedStage, weights: Path, *, num_classes: int, device: torch.device) -> Any:
    """The stage's teacher detector with ``weights``, frozen (eval mode, no gradients), on ``device``."""
    from benchmark.zoo import build_detector

    model = dataclasses.replace(stage.teacher.model, checkpoint=str(weights))
    return build_detector(model, num_classes=num_classes).to(device).freeze()


def build_criterion(run: ResolvedRun, stage: ResolvedStage, student_card: Any, teacher_card: Any) -> Any:
    """The stage's :class:`~benchmark.distill.loss.DistillLoss` with its resolved options."""
    from benchmark.distill.loss import DistillLoss
    from benchmark.distill.methods import get_method

    return DistillLoss(
        get_method(run.method), student_card, teacher_card, dict(stage.options), run.config.distill.level_weights
    )


def to_device(batch: Any, device: torch.device) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """A collated batch's images (float32 in [0, 1], :func:`~benchmark.data.coco.to_float`) and targets on
    ``device``."""
    from benchmark.data.coco import to_float

    images = [to_float(img.to(device, non_blocking=True)) for img in batch.images]
    targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in batch.targets]
    return images, targets
