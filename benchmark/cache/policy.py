"""When a teacher-feature cache is exact, and what it costs on disk.

A cache is exact (equal to the live teacher's features to fp32 round-off) only when

* the teacher is frozen: every module in eval mode (frozen or eval-mode normalisation, no dropout);
* the augmentation is a finite set of deterministic transforms: here one resize rule (the data protocol's) and
  optionally a horizontal flip. :data:`DETERMINISTIC_DATA_FIELDS` lists the data settings known to be deterministic; any
  other data setting away from its default (random scale jitter, random crops, ...) makes the cache inexact;
* a training batch never pads images of different shapes together (``batch_size`` 1, or one resized shape
  for the whole split): the detector zero-pads a batch to its largest image, and padding changes conv
  features near the borders, so a feature computed in one batch is not the feature of another batch.

Anything else runs the live teacher and says why in one line; a wrong cache is never used silently.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from benchmark.config import ConfigError, DataConfig, DistillConfig, ModelConfig
from benchmark.data.coco import CocoDetection
from benchmark.zoo.base import Detector
from benchmark.zoo.card import FPNLevel

MODES = {"auto": "float32", "fp16": "float16", "off": None}  # distill.teacher_cache -> storage dtype
ITEMSIZE = {"float32": 4, "float16": 2}
PAD_DIVISOR = 32  # what the torchvision and mmdet back ends pad a batch to (budget estimate only)
DETERMINISTIC_DATA_FIELDS = frozenset(
    {
        "dataset",
        "root",
        "train_ann",
        "train_images",
        "test_ann",
        "test_images",
        "val_ann",  # evaluation only: the training images and their transforms do not depend on the split files
        "val_images",
        "input_size",
        "protocol",
        "scale",
        "hflip",
        "max_images",
        "synthetic_images",
        "synthetic_size",
        "synthetic_classes",
        "synthetic_seed",
    }
)


def check_mode(distill: DistillConfig) -> str | None:
    """The storage dtype of ``distill.teacher_cache`` (None for ``off``); :class:`ConfigError` if unknown."""
    problems = []
    if distill.teacher_cache not in MODES:
        problems.append(f"distill.teacher_cache: unknown value {distill.teacher_cache!r} (choose from auto, fp16, off)")
    if not distill.teacher_cache_max_gb >= 0:
        problems.append(f"distill.teacher_cache_max_gb: must be >= 0, got {distill.teacher_cache_max_gb!r}")
    if problems:
        raise ConfigError(problems)
    return MODES[distill.teacher_cache]


def dataset_shapes(dataset: CocoDetection) -> list[tuple[int, int]]:
    """Resized (h, w) of every training image, from the annotation file (no image is decoded)."""
    return [dataset.resized_shape(index) for index in range(len(dataset))]


def inexact_reason(
    data: DataConfig, batch_size: int, shapes: Sequence[tuple[int, int]], teacher: Detector | None = None
) -> str | None:
    """Why a cache of this configuration would differ from the live teacher, or None when it is exact."""
    if teacher is not None:
        training = [name or type(m).__name__ for name, m in teacher.named_modules() if m.training]
        if training:
            return f"the teacher is in train mode (module {training[0]!r}), so its features depend on the batch"
    defaults = type(data)()
    for f in dataclasses.fields(data):
        value = getattr(data, f.name)
        if f.name not in DETERMINISTIC_DATA_FIELDS and value != getattr(defaults, f.name):
            return f"data.{f.name}={value!r} is not a known deterministic transform"
    distinct = sorted(set(shapes))
    if batch_size > 1 and len(distinct) > 1:
        return (
            f"training images have {len(distinct)} different sizes and batch_size is {batch_size}: zero padding "
            "to the largest image in a batch changes conv features near borders"
        )
    return None


@dataclass(frozen=True)
class Budget:
    """Disk size of a cache: bytes per image per level (mean over images) × images × transforms."""

    images: int
    transforms: int
    dtype: str
    level_bytes: dict[str, float]  # level -> mean bytes per image per transform

    @property
    def total(self) -> int:
        return round(sum(self.level_bytes.values()) * self.images * self.transforms)

    def describe(self) -> str:
        per = " + ".join(f"{name} {size_text(b)}" for name, b in self.level_bytes.items())
        return (
            f"({per}) per image per transform x {self.images} images x {self.transforms} transforms "
            f"= {size_text(self.total)} {self.dtype}"
        )


def estimate_budget(
    levels: Sequence[FPNLevel], shapes: Sequence[tuple[int, int]], transforms: int, dtype: str
) -> Budget:
    """Bytes of a cache of ``levels`` for images of resized ``shapes`` (padded to :data:`PAD_DIVISOR`)."""
    level_bytes = {}
    for level in levels:
        cells = 0
        for h, w in shapes:
            ph, pw = math.ceil(h / PAD_DIVISOR) * PAD_DIVISOR, math.ceil(w / PAD_DIVISOR) * PAD_DIVISOR
            cells += math.ceil(ph / level.stride) * math.ceil(pw / level.stride)
        level_bytes[level.name] = level.channels * ITEMSIZE[dtype] * cells / max(1, len(shapes))
    return Budget(len(shapes), transforms, dtype, level_bytes)


def card_levels(model: ModelConfig) -> tuple[FPNLevel, ...]:
    """FPN levels of a not-yet-built model: its card's, with the ``fpn_channels`` option applied."""
    from benchmark.zoo import get_card

    levels = get_card(model.name).levels
    channels = model.options.get("fpn_channels")
    if isinstance(channels, int) and not isinstance(channels, bool):
        levels = tuple(dataclasses.replace(lv, channels=channels) for lv in levels)
    return levels


@dataclass(frozen=True)
class Decision:
    """Use a cache (``dtype``) or the live teacher (``reason``, one line); ``budget`` when it was estimated."""

    dtype: str | None
    reason: str | None
    budget: Budget | None

    @property
    def cached(self) -> bool:
        return self.dtype is not None and self.reason is None


def decide(
    distill: DistillConfig,
    data: DataConfig,
    batch_size: int,
    levels: Sequence[FPNLevel],
    shapes: Sequence[tuple[int, int]],
    n_transforms: int,
    teacher: Detector | None = None,
) -> Decision:
    """Whether a run's teacher features come from a cache, and why not when they do not."""
    dtype = check_mode(distill)
    if dtype is None:
        return Decision(None, "distill.teacher_cache is off", None)
    reason = inexact_reason(data, batch_size, shapes, teacher)
    if reason is not None:
        return Decision(dtype, f"a cache would be inexact: {reason}", None)
    budget = estimate_budget(levels, shapes, n_transforms, dtype)
    if budget.total > distill.teacher_cache_max_gb * 1e9:
        limit = distill.teacher_cache_max_gb
        return Decision(
            dtype, f"a cache would take {size_text(budget.total)} > distill.teacher_cache_max_gb={limit:g}", budget
        )
    return Decision(dtype, None, budget)


def size_text(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"
