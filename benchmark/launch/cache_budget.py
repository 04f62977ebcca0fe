"""The teacher-cache lines of ``dfmsd-bench plan``: which caches a sweep builds and their disk budget.

Nothing is built or prepared here: image sizes come from the training annotation file when it is
already on disk (NEON once prepared, COCO under ``data.root``) or from the parameters (synthetic).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from benchmark.cache.key import transforms_of
from benchmark.cache.policy import card_levels, decide, size_text
from benchmark.config import DataConfig, RunConfig, TeacherConfig, teacher_run_config
from benchmark.data.coco import resized_shape
from benchmark.run.resolve import run_id


def known_train_shapes(data: DataConfig) -> list[tuple[int, int]] | None:
    """Resized (h, w) of the training images, or None when the data is not on disk yet."""
    if data.dataset == "synthetic":
        sizes = [(data.synthetic_size, data.synthetic_size)] * data.synthetic_images
    else:
        if data.dataset == "coco" and data.root:
            ann = Path(data.root).expanduser() / data.train_ann
        elif data.dataset == "neon":
            from benchmark.data.neon import default_neon_root

            root = Path(data.root).expanduser() if data.root else default_neon_root()
            ann = root / "annotations" / "instances_train.json"
        else:
            return None
        try:
            images = json.loads(ann.read_text())["images"]
            sizes = [(int(img["height"]), int(img["width"])) for img in images]
        except (OSError, ValueError, KeyError, TypeError):
            return None
    if data.max_images is not None:
        sizes = sizes[: max(0, data.max_images)]
    return [resized_shape(h, w, data.input_size)[:2] for h, w in sizes]


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
