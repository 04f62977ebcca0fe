"""The one validator of a run: every problem that can be found without training, before anything runs.

:func:`problems` returns ``(dotted key, message)`` pairs for a typed :class:`~benchmark.config.RunConfig`; every
command that starts or plans runs uses it (``train``, ``plan``, ``run``, the quickstart, the trainer's module
entry), through :func:`check` (which also resolves the run) or, in the planner, directly (it prefixes each line
with the sweep file and the grid value that set the key). Checked: value ranges, names (models, method, dataset,
teacher-cache mode, tracking mode), the role, stage fractions, method options (names, and values by building
each distinct criterion configuration once), teacher/student level matching, and files (checkpoints, COCO
folders). Cheap: model cards, signatures, ``stat``; no detector is built and no image is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.config import ConfigError, DataConfig, RunConfig, TrainConfig
from benchmark.config.schema import finite_number

if TYPE_CHECKING:  # importing the zoo or the methods imports torch: only when validating
    from benchmark.distill.methods import MethodSpec
    from benchmark.run.resolve import ResolvedRun
    from benchmark.zoo.card import ModelCard

Problem = tuple[str, str]

TRACKING_MODES = ("auto", "online", "offline", "disabled")
# sane bounds [low, high] (a value outside is a typo, not a setting); training's are in benchmark.run.optim
DATA_BOUNDS = {"input_size": (32, 8192), "synthetic_images": (1, 100_000), "synthetic_size": (32, 4096)}
DATA_BOUNDS |= {"synthetic_classes": (1, 1000)}
EVAL_BOUNDS = {"score_thresh": (0, 1), "max_detections": (1, 100_000), "batch_size": (1, 4096)}
RESOURCE_BOUNDS = {"gpus": (0, 1024), "cpus": (1, 4096), "mem_gb": (1, 1 << 20), "time_min": (1, 10**6)}
RESOURCE_BOUNDS |= {"nodes": (1, 4096)}


def check(cfg: RunConfig, source: str) -> ResolvedRun:
    """The resolved run of ``cfg``, or :class:`ConfigError` with one ``<source>: <key>: <message>`` line per
    problem."""
    from benchmark.run.resolve import resolve

    found = problems(cfg)
    if found:
        raise ConfigError([f"{source}: {key}: {message}" for key, message in found])
    return resolve(cfg)


def problems(cfg: RunConfig) -> list[Problem]:
    """Every problem of ``cfg``: names (models, method, dataset), role, pairs, options, files, value ranges."""
    from benchmark.distill.methods import METHODS
    from benchmark.run.resolve import ROLES

    found: list[Problem] = []
    student = _card(cfg.model.name, "model.name", found)
    if student is not None:
        found += _model_option_problems(cfg.model.name, cfg.model.options, "model.options")
        strides = {lv.stride for lv in student.levels}
        found += [
            (f"distill.level_weights.{s}", f"{student.name} has no FPN level of stride {s} (strides {sorted(strides)})")
            for s in cfg.distill.level_weights
            if s not in strides
        ]
    found += _checkpoint_problems(cfg.model.checkpoint, "model.checkpoint")
    found += train_problems(cfg.train, "train")
    found += data_problems(cfg.data)
    found += _number_problems(cfg.model.options, "model.options")
    found += _number_problems(cfg.distill.options, "distill.options")
    if not 0 <= cfg.seed < 2**31:
        found.append(("seed", f"must lie in [0, 2**31), got {cfg.seed}"))
    found += _bounds(cfg.eval, "eval", EVAL_BOUNDS | {"every": (0, cfg.train.iterations)})
    found += _bounds(cfg.resources, "resources", RESOURCE_BOUNDS)
    if cfg.distill.min_teacher_map is not None and not 0 <= cfg.distill.min_teacher_map <= 1:
        found.append(("distill.min_teacher_map", f"must lie in [0, 1] or be null, got {cfg.distill.min_teacher_map}"))
    found += [
        (f"distill.level_weights.{s}", f"must be a finite number >= 0, got {w}")
        for s, w in cfg.distill.level_weights.items()
        if not (finite_number(w) and w >= 0)
    ]
    if cfg.role not in ROLES:
        found.append(("role", f"unknown role {cfg.role!r} (choose from {', '.join(ROLES)})"))
    if cfg.train.processes % max(cfg.resources.nodes, 1):
        found.append(("resources.nodes", f"{cfg.resources.nodes} must divide train.processes={cfg.train.processes}"))
    if cfg.tracking.mode not in TRACKING_MODES:
        found.append(("tracking.mode", f"unknown mode {cfg.tracking.mode!r} (choose from {', '.join(TRACKING_MODES)})"))
    if cfg.distill.method not in METHODS:
        found.append(("distill.method", f"unknown method {cfg.distill.method!r}; known: {', '.join(METHODS.names())}"))
        return found
    found += _teacher_cache_problems(cfg)
    spec = METHODS.get(cfg.distill.method)
    if cfg.role == "teacher" and spec.needs_teacher:
        found.append(("role", f"a teacher run trains without distillation; distill.method is {spec.name!r}"))
    stages = cfg.distill.stage_list()
    if not spec.needs_teacher:
        if stages:
            found.append(("distill.method", f"{spec.name!r} trains without a teacher; remove distill.teacher/stages"))
        return found
    found += [("distill.options", p) for p in spec.option_problems(cfg.distill.options)]
    if not stages:
        found.append(("distill.method", f"method {spec.name!r} needs a teacher: set distill.teacher or distill.stages"))
    if cfg.distill.stages:
        fractions = [s.fraction for s in cfg.distill.stages]
        if all(f > 0 for f in fractions) and sum(fractions) > 1 + 1e-9:
            total = sum(fractions)
            found.append(("distill.stages", f"fractions must sum to at most 1, got {fractions} (sum {total:g})"))
    for i, stage in enumerate(stages):
        key = f"distill.stages[{i}]" if cfg.distill.stages else "distill"
        if cfg.distill.stages:
            found += [(f"{key}.options", p) for p in spec.option_problems(stage.options)]
            found += _number_problems(stage.options, f"{key}.options")
            if not stage.fraction > 0:
                found.append((f"{key}.fraction", f"must be > 0, got {stage.fraction}"))
        teacher = stage.teacher
        tkey = f"{key}.teacher"
        tcard = _card(teacher.model.name, f"{tkey}.model.name", found)
        if tcard is not None:
            found += _model_option_problems(teacher.model.name, teacher.model.options, f"{tkey}.model.options")
        if student is not None and tcard is not None:
            pair = _pair_problems(student, tcard, tkey)
            found += pair
            if not pair and not spec.option_problems({**cfg.distill.options, **stage.options}):
                options = spec.resolve_options(student.kind, {**cfg.distill.options, **stage.options})
                okey = f"{key}.options" if cfg.distill.stages and stage.options else "distill.options"
                found += _option_value_problems(spec, student, tcard, options, okey)
        if teacher.checkpoint is not None:
            found += _checkpoint_problems(teacher.checkpoint, f"{tkey}.checkpoint")
        else:
            found += _checkpoint_problems(teacher.model.checkpoint, f"{tkey}.model.checkpoint")
            found += train_problems(teacher.train, f"{tkey}.train")
    return found


def teacher_problems(run: ResolvedRun, runs_root: Path) -> list[Problem]:
    """For a run started on its own (``dfmsd-bench train``, the quickstart): each stage's teacher run must be done
    in ``runs_root`` and pass the teacher gate (:func:`benchmark.run.build.teacher_weights`)."""
    from benchmark.run.build import teacher_weights
    from benchmark.run.failures import TeacherRejected

    found: list[Problem] = []
    for stage in run.stages:
        key = f"distill.stages[{stage.index}].teacher" if run.config.distill.stages else "distill.teacher"
        try:
            teacher_weights(stage, runs_root, min_map=run.config.distill.min_teacher_map)
        except TeacherRejected as exc:
            if (key, str(exc)) not in found:
                found.append((key, str(exc)))
    return found


def _teacher_cache_problems(cfg: RunConfig) -> list[Problem]:
    from benchmark.cache.policy import check_mode

    try:
        check_mode(cfg.distill)
    except ConfigError as exc:
        return [tuple(p.split(": ", 1)) for p in exc.problems]  # type: ignore[misc]
    return []


def train_problems(train: TrainConfig, key: str) -> list[Problem]:
    from benchmark.precision import AMP_DTYPES
    from benchmark.run.optim import train_problems as problems_of

    found = [(f"{key}.{field}", problem) for field, problem in problems_of(train)]
    if train.amp not in AMP_DTYPES:
        found.append((f"{key}.amp", f"unknown mode {train.amp!r} (choose from {', '.join(AMP_DTYPES)})"))
    if train.num_workers < 0:
        found.append((f"{key}.num_workers", f"must be >= 0, got {train.num_workers}"))
    if train.prefetch_factor < 1:
        found.append((f"{key}.prefetch_factor", f"must be >= 1, got {train.prefetch_factor}"))
    return found


def _bounds(obj: Any, key: str, bounds: Mapping[str, tuple[float, float]]) -> list[Problem]:
    found = []
    for name, (low, high) in bounds.items():
        value = getattr(obj, name)
        if value is not None and not low <= value <= high:
            found.append((f"{key}.{name}", f"must lie in [{low:g}, {high:g}], got {value}"))
    return found


def _number_problems(value: Any, key: str) -> list[Problem]:
    """Numbers inside free-form options (``model.options``, ``distill.options``) must be finite float32 values."""
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _number_problems(v, f"{key}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _number_problems(v, f"{key}[{i}]")]
    if isinstance(value, float) and not finite_number(value):
        return [(key, f"must be a finite number (float32 range), got {value!r}")]
    return []


def data_problems(data: DataConfig) -> list[Problem]:
    """Unknown dataset or protocol, bad sizes, and for ``coco`` a missing root, annotation file or image folder,
    and what is wrong in each split's annotation file or images (:func:`benchmark.data.check_split`)."""
    from benchmark.data import DATASETS, PROTOCOLS, check_split, split_files

    found = []
    if data.dataset not in DATASETS:
        return [("data.dataset", f"unknown dataset {data.dataset!r} (choose from {', '.join(DATASETS)})")]
    found += _bounds(data, "data", DATA_BOUNDS)
    if data.protocol not in PROTOCOLS:
        found.append(("data.protocol", f"unknown protocol {data.protocol!r} (choose from {', '.join(PROTOCOLS)})"))
    if len(data.scale) != 2 or not all(32 <= v <= 8192 for v in data.scale):
        found.append(("data.scale", f"expected [long, short], two sizes in [32, 8192], got {list(data.scale)}"))
    if data.max_images is not None and not 1 <= data.max_images <= 100_000_000:
        found.append(("data.max_images", f"must be >= 1 or null, got {data.max_images}"))
    if bool(data.val_images) and not data.val_ann:
        found.append(("data.val_images", "a validation image folder without data.val_ann"))
    if data.dataset != "coco":
        return found
    if not data.root:
        return [*found, ("data.root", "dataset 'coco' needs data.root (the folder holding the COCO files)")]
    root = Path(data.root).expanduser()
    if not root.is_dir():
        return [*found, ("data.root", f"no such folder: {root}")]
    splits = ["train", "test"] + (["val"] if data.val_ann else [])
    for split in splits:
        ann, images = split_files(data, split)
        missing = [
            (f"data.{split}_{key}", f"no such {kind}: {root / name}")
            for key, kind, name in (("ann", "file", ann), ("images", "folder", images))
            if not ((root / name).is_file() if kind == "file" else (root / name).is_dir())
        ]
        found += missing
        if not missing:
            problem = check_split(data, split)
            if problem:
                found.append((f"data.{split}_ann", problem))
    return found


def _card(name: str, key: str, found: list[Problem]) -> ModelCard | None:
    from benchmark.zoo import MODELS, get_card, known_model

    if not known_model(name):  # a registered name or an mmdet: config
        found.append((key, f"unknown model {name!r}; known: {', '.join(MODELS.names())}"))
        return None
    return get_card(name)


def _model_option_problems(name: str, options: Mapping[str, Any], key: str) -> list[Problem]:
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
    spec: MethodSpec, student: ModelCard, teacher: ModelCard, options: Mapping[str, Any], key: str
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


def _checkpoint_problems(path: str | None, key: str) -> list[Problem]:
    """A checkpoint must exist and load as plain weights (``torch.load(weights_only=True)``), checked once per
    file state (:func:`benchmark.checkpoints.check_weights_file`)."""
    from benchmark.checkpoints import check_weights_file

    if path is None:
        return []
    if not Path(path).expanduser().is_file():
        return [(key, f"no such file: {path}")]
    problem = check_weights_file(Path(path).expanduser())
    return [(key, problem)] if problem else []
