"""Checks of a typed run config against the zoo, the method registry and the disk, before anything runs.

Each check returns ``(dotted key, message)`` pairs; the planner prefixes the sweep file and the grid
axis/value that set the key. Everything here is cheap (cards, signatures, ``stat``, and one build of each
distinct criterion configuration to let its constructor check option values): no detector is built and no
data is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.config import DataConfig, RunConfig, TrainConfig

if TYPE_CHECKING:  # importing the zoo or the methods imports torch: only when validating
    from benchmark.distill.methods import MethodSpec
    from benchmark.zoo.card import ModelCard

Problem = tuple[str, str]

TRACKING_MODES = ("auto", "online", "offline", "disabled")


def run_problems(cfg: RunConfig) -> list[Problem]:
    """Every problem of ``cfg``: names (models, method, dataset), pairs, options, files, value ranges."""
    from benchmark.distill.methods import METHODS

    problems: list[Problem] = []
    student = _card(cfg.model.name, "model.name", problems)
    if student is not None:
        problems += _model_option_problems(cfg.model.name, cfg.model.options, "model.options")
        strides = {lv.stride for lv in student.levels}
        problems += [
            (f"distill.level_weights.{s}", f"{student.name} has no FPN level of stride {s} (strides {sorted(strides)})")
            for s in cfg.distill.level_weights
            if s not in strides
        ]
    problems += _file_problems(cfg.model.checkpoint, "model.checkpoint")
    problems += train_problems(cfg.train, "train")
    problems += data_problems(cfg.data)
    if cfg.train.processes % max(cfg.resources.nodes, 1):
        problems.append(("resources.nodes", f"{cfg.resources.nodes} must divide train.processes={cfg.train.processes}"))
    if cfg.tracking.mode not in TRACKING_MODES:
        problems.append(
            ("tracking.mode", f"unknown mode {cfg.tracking.mode!r} (choose from {', '.join(TRACKING_MODES)})")
        )
    if cfg.distill.method not in METHODS:
        problems.append(
            ("distill.method", f"unknown method {cfg.distill.method!r}; known: {', '.join(METHODS.names())}")
        )
        return problems
    problems += _teacher_cache_problems(cfg)
    spec = METHODS.get(cfg.distill.method)
    problems += [("distill.options", p) for p in spec.option_problems(cfg.distill.options)]
    stages = cfg.distill.stage_list()
    if spec.needs_teacher and not stages:
        problems.append(
            ("distill.method", f"method {spec.name!r} needs a teacher: set distill.teacher or distill.stages")
        )
    for i, stage in enumerate(stages):
        key = f"distill.stages[{i}]" if cfg.distill.stages else "distill"
        if cfg.distill.stages:
            problems += [(f"{key}.options", p) for p in spec.option_problems(stage.options)]
            if not stage.fraction > 0:
                problems.append((f"{key}.fraction", f"must be > 0, got {stage.fraction}"))
        teacher = stage.teacher
        tkey = f"{key}.teacher"
        tcard = _card(teacher.model.name, f"{tkey}.model.name", problems)
        if tcard is not None:
            problems += _model_option_problems(teacher.model.name, teacher.model.options, f"{tkey}.model.options")
        if student is not None and tcard is not None:
            pair = _pair_problems(student, tcard, tkey)
            problems += pair
            if not pair and not spec.option_problems({**cfg.distill.options, **stage.options}):
                options = spec.resolve_options(student.kind, {**cfg.distill.options, **stage.options})
                okey = f"{key}.options" if cfg.distill.stages and stage.options else "distill.options"
                problems += _option_value_problems(spec, student, tcard, options, okey)
        if teacher.checkpoint is not None:
            problems += _file_problems(teacher.checkpoint, f"{tkey}.checkpoint")
        else:
            problems += _file_problems(teacher.model.checkpoint, f"{tkey}.model.checkpoint")
            problems += train_problems(teacher.train, f"{tkey}.train")
    return problems


def _teacher_cache_problems(cfg: RunConfig) -> list[Problem]:
    from benchmark.cache.policy import check_mode
    from benchmark.config import ConfigError

    try:
        check_mode(cfg.distill)
    except ConfigError as exc:
        return [tuple(p.split(": ", 1)) for p in exc.problems]  # type: ignore[misc]
    return []


def train_problems(train: TrainConfig, key: str) -> list[Problem]:
    from benchmark.run.optim import train_problems as problems_of

    return [(f"{key}.{field}", problem) for field, problem in problems_of(train)]


def data_problems(data: DataConfig) -> list[Problem]:
    """Unknown dataset, bad sizes, and for ``coco`` a missing root, annotation file or image folder."""
    from benchmark.data import DATASETS

    problems = []
    if data.dataset not in DATASETS:
        return [("data.dataset", f"unknown dataset {data.dataset!r} (choose from {', '.join(DATASETS)})")]
    if data.input_size < 32:
        problems.append(("data.input_size", f"must be >= 32, got {data.input_size}"))
    if data.max_images is not None and data.max_images < 1:
        problems.append(("data.max_images", f"must be >= 1 or null, got {data.max_images}"))
    if data.dataset != "coco":
        return problems
    if not data.root:
        return [*problems, ("data.root", "dataset 'coco' needs data.root (the folder holding the COCO files)")]
    root = Path(data.root).expanduser()
    if not root.is_dir():
        return [*problems, ("data.root", f"no such folder: {root}")]
    for key, kind in (
        ("train_ann", "file"),
        ("test_ann", "file"),
        ("train_images", "folder"),
        ("test_images", "folder"),
    ):
        path = root / getattr(data, key)
        if not (path.is_file() if kind == "file" else path.is_dir()):
            problems.append((f"data.{key}", f"no such {kind}: {path}"))
    return problems


def _card(name: str, key: str, problems: list[Problem]) -> ModelCard | None:
    from benchmark.zoo import MODELS, get_card, known_model

    if not known_model(name):  # a registered name or an mmdet: config
        problems.append((key, f"unknown model {name!r}; known: {', '.join(MODELS.names())}"))
        return None
    return get_card(name)


def _model_option_problems(name: str, options: dict, key: str) -> list[Problem]:
    from benchmark.zoo import option_problems

    return [(key, p) for p in option_problems(name, options)]


def _pair_problems(student: ModelCard, teacher: ModelCard, key: str) -> list[Problem]:
    from benchmark.distill.levels import UnmatchablePairError, match_levels

    try:
        match_levels(student, teacher)
    except UnmatchablePairError as exc:
        return [(key, str(exc))]
    return []


def _option_value_problems(
    spec: MethodSpec, student: ModelCard, teacher: ModelCard, options: dict, key: str
) -> list[Problem]:
    """Build the criterion once with the first matched level's channels: its constructor checks values."""
    from benchmark.distill.levels import match_levels

    pair = match_levels(student, teacher)[0]
    signature = (spec.name, student.name, teacher.name, repr(sorted(options.items())))
    if signature not in _BUILT:
        try:
            spec.build(pair.student.channels, pair.teacher.channels, options)
            _BUILT[signature] = None
        except (ValueError, TypeError) as exc:
            _BUILT[signature] = f"method {spec.name!r} rejects its options: {exc}"
    message = _BUILT[signature]
    return [(key, message)] if message else []


_BUILT: dict[tuple[str, str, str, str], str | None] = {}


def _file_problems(path: str | None, key: str) -> list[Problem]:
    if path is None or Path(path).expanduser().is_file():
        return []
    return [(key, f"no such file: {path}")]
