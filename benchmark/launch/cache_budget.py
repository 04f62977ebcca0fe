"""The teacher-cache lines of ``dfmsd-bench plan``: which caches a sweep builds and their disk budget.

Nothing is built or prepared here: image sizes come from the training annotation file when it is
already on disk (NEON once prepared, COCO under ``data.root``) or from the parameters (synthetic).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable
from pathlib import Path

from benchmark.cache.key import transforms_of
from benchmark.cache.policy import card_levels, decide, size_text
from benchmark.config import DataConfig, RunConfig, TeacherConfig, teacher_run_config
from benchmark.data.protocol import Resize, mmdet_train_images
from benchmark.run.resolve import run_id


@dataclasses.dataclass(frozen=True)
class TrainSizes:
    """Original (h, w) of the training images a run uses, and how many the annotation file lists."""

    sizes: tuple[tuple[int, int], ...]
    listed: int  # images in the annotation file (before filter_empty_gt and max_images)


def train_sizes(data: DataConfig) -> TrainSizes | None:
    """The training images of ``data`` (mmdet protocol: those ``filter_empty_gt`` keeps; ``max_images``
    applied), from the annotation file, or None when it is not on disk yet (synthetic: from the parameters)."""
    if data.dataset == "synthetic":
        sizes = [(data.synthetic_size, data.synthetic_size)] * data.synthetic_images
        listed = len(sizes)
    else:
        if data.dataset == "coco" and data.root:
            ann = Path(data.root).expanduser() / data.train_ann
        elif data.dataset == "neon":
            from benchmark.data.neon import default_neon_root

            root = Path(data.root).expanduser() if data.root else default_neon_root()
            ann = root / data.train_ann
        else:
            return None
        try:
            stat = ann.stat()
            images, listed = _annotated_sizes(str(ann), stat.st_size, stat.st_mtime_ns, data.protocol == "mmdet")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        sizes = list(images)
    if data.max_images is not None:
        sizes = sizes[: max(0, data.max_images)]
    return TrainSizes(tuple(sizes), listed)


@functools.lru_cache(maxsize=8)
def _annotated_sizes(path: str, _size: int, _mtime_ns: int, mmdet: bool) -> tuple[tuple[tuple[int, int], ...], int]:
    """(h, w) of the images of an annotation file (read once per file version: train2017's is 448 MB)."""
    data = json.loads(Path(path).read_text())
    images = mmdet_train_images(data["images"], data["annotations"]) if mmdet else data["images"]
    return tuple((int(img["height"]), int(img["width"])) for img in images), len(data["images"])


def known_train_shapes(data: DataConfig) -> list[tuple[int, int]] | None:
    """Resized (h, w) of the training images, or None when the data is not on disk yet."""
    found = train_sizes(data)
    if found is None:
        return None
    resize = Resize.of(data)
    return [resize.shape(h, w) for h, w in found.sizes]


def cache_plan_lines(runs: Iterable[RunConfig], cache_root: str | Path) -> list[str]:
    """One line per distinct teacher cache the student ``runs`` would read (or why they run the teacher live),
    and a total: bytes per image per level x images x transforms."""
    groups: dict[tuple, tuple[TeacherConfig, list[RunConfig]]] = {}
    for cfg in runs:
        for stage in cfg.distill.stage_list():
            source = stage.teacher.checkpoint or run_id(teacher_run_config(cfg, stage.teacher))
            ident = (source, repr(stage.teacher.model), repr(cfg.data), cfg.distill.teacher_cache)
            students = groups.setdefault(ident, (stage.teacher, []))[1]
            if not students or students[-1] is not cfg:  # S-b: one teacher in several stages of one run
                students.append(cfg)
    if not groups:
        return []
    lines = [f"teacher-feature caches (distill.teacher_cache; {Path(cache_root)}/teacher-<key>):"]
    total = 0
    for (source, _, _, _), (teacher, students) in groups.items():
        cfg = students[0]
        head = f"  {teacher.model.name} ({Path(source).name}) for {len(students)} student run(s): "
        shapes = known_train_shapes(cfg.data)
        if shapes is None:
            lines.append(head + "size unknown until the data is prepared (dfmsd-bench data prepare)")
            continue
        verdicts = {}
        for student in students:
            d = decide(
                student.distill,
                student.data,
                student.train.batch_size,
                card_levels(teacher.model),
                shapes,
                len(transforms_of(student.data)),
            )
            verdicts.setdefault(d.reason, d)
        for reason, d in verdicts.items():
            if reason is None:
                total += d.budget.total
                lines.append(head + d.budget.describe() + ", built once by its cache node")
            else:
                lines.append(head + f"live teacher: {reason}")
    lines.append(f"teacher caches to build: {size_text(total)} in all (estimate; the build logs exact sizes)")
    return lines
