"""Teacher feature sources: what the trainer calls once per step for the frozen teacher's FPN features.

``LiveTeacher(detector).features(batch)`` runs the teacher (backbone + neck, no grad);
``CachedTeacher(cache, ...).features(batch)`` reads the same features from a :class:`FeatureCache` and
returns them in the same padded-batch geometry (``img_metas``), so the distillation losses cannot tell the
two apart. :func:`teacher_source` picks one for a run (see :mod:`benchmark.cache.policy`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from benchmark.cache.key import Transform, cache_key, data_fingerprint, file_sha256, transforms_of
from benchmark.cache.policy import dataset_shapes, decide
from benchmark.cache.store import FeatureCache, ensure_cache
from benchmark.config import ModelConfig, RunConfig
from benchmark.data.coco import Batch, CocoDetection, to_float
from benchmark.data.protocol import Resize
from benchmark.precision import autocast
from benchmark.zoo.base import Detector, FeatureBatch


class TeacherSource(Protocol):
    def features(self, batch: Batch, images: Sequence[Tensor] | None = None) -> FeatureBatch:
        """Teacher FPN features of ``batch`` (``images``: the batch's images already on the device, if any)."""
        ...


class LiveTeacher:
    """The frozen teacher run on every batch, under ``no_grad`` (and the run's autocast, ``train.amp``)."""

    def __init__(self, detector: Detector, *, amp: str = "off") -> None:
        self.detector = detector
        self.amp = amp

    def features(self, batch: Batch, images: Sequence[Tensor] | None = None) -> FeatureBatch:
        if images is None:
            images = [to_float(img.to(self.detector.device)) for img in batch.images]
        with torch.no_grad(), autocast(self.amp, self.detector.device):
            return self.detector.extract_features(list(images))


class CachedTeacher:
    """Teacher features read from a cache: entries of the batch's (image id, flip) stacked per level.

    The batch geometry is checked against the cache: each image's shape must be the cached ``img_shape``
    and all images must share one ``pad_shape`` (what :func:`~benchmark.cache.policy.inexact_reason` ensures).
    """

    def __init__(self, cache: FeatureCache, *, resize: Resize, device: torch.device | str = "cpu") -> None:
        self.cache = cache
        self.resize = resize
        self.device = torch.device(device)

    def features(self, batch: Batch, images: Sequence[Tensor] | None = None) -> FeatureBatch:
        loaded = [self.cache.load(i, Transform(self.resize, f)) for i, f in zip(batch.image_ids, batch.hflips)]
        pads = {pad for _, _, pad in loaded}
        if len(pads) != 1:
            raise RuntimeError(f"teacher cache {self.cache.directory}: batch mixes padded shapes {sorted(pads)}")
        metas = []
        for image, image_id, (_, img_shape, pad) in zip(batch.images, batch.image_ids, loaded):
            if tuple(image.shape[-2:]) != img_shape:
                raise RuntimeError(
                    f"teacher cache {self.cache.directory}: image {image_id} is {tuple(image.shape[-2:])}, "
                    f"cached as {img_shape} (the data changed under the cache)"
                )
            metas.append({"img_shape": img_shape, "pad_shape": pad})
        feats = {
            name: torch.stack([f[name] for f, _, _ in loaded]).to(self.device, torch.float32, non_blocking=True)
            for name in loaded[0][0]
        }
        return FeatureBatch(feats, metas)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def teacher_source(
    teacher: Detector,
    *,
    cfg: RunConfig,
    teacher_model: ModelConfig,
    weights: str | Path,
    dataset: CocoDetection,
    cache_root: str | Path,
    log: Callable[[str], None] = _stderr,
    progress: bool = True,
) -> LiveTeacher | CachedTeacher:
    """The feature source of one stage's frozen ``teacher`` (loaded from ``weights``) for run ``cfg``.

    A cache when ``cfg.distill.teacher_cache`` is on, the configuration makes it exact and it fits
    ``teacher_cache_max_gb``: then ``<cache_root>/teacher-<key>`` is verified or built (once, under a lock).
    Otherwise the live teacher, with one line to ``log`` saying why.
    """
    transforms = transforms_of(cfg.data)
    decision = decide(
        cfg.distill,
        cfg.data,
        cfg.train.batch_size,
        teacher.card.levels,
        dataset_shapes(dataset),
        len(transforms),
        teacher,
    )
    if not decision.cached:
        log(f"teacher features: live teacher {teacher.card.name} ({decision.reason})")
        return LiveTeacher(teacher, amp=cfg.train.amp)
    key, fields = cache_key(
        teacher_sha256=file_sha256(weights),
        teacher_model=teacher_model,
        data_fp=data_fingerprint(dataset),
        transforms=transforms,
        dtype=decision.dtype,
        amp=cfg.train.amp,
    )
    cache = ensure_cache(
        cache_root,
        key,
        teacher=teacher,
        dataset=dataset,
        transforms=transforms,
        dtype=decision.dtype,
        key_fields=fields,
        log=log,
        progress=progress,
        amp=cfg.train.amp,
    )
    log(
        f"teacher features: cache {cache.directory} ({len(cache.entries)} entries, "
        f"{cache.nbytes / 1e6:.1f} MB {cache.dtype})"
    )
    return CachedTeacher(cache, resize=dataset.resize, device=teacher.device)
