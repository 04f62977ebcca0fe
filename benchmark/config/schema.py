"""The run config schema: typed frozen dataclasses, parsed from raw mappings with every problem reported.

A run config is plain data. :func:`run_config_from_dict` checks a raw mapping (from YAML or the command line)
and reports *every* type problem at once, one line each, naming the source file and the dotted key; nothing
below this module receives raw dicts. What the code fills in (method and builder defaults, presets, teacher run
ids) and the run id that hashes it are the *resolved* run (:mod:`benchmark.run.resolve`); the checks that need
the zoo, the methods or the disk are :mod:`benchmark.run.validate`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """One or more problems in a config; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class DataConfig:
    """Which images, at which input size, with which (finite, deterministic) augmentation."""

    dataset: str = "neon"  # neon | synthetic | coco
    root: str | None = None  # coco: dataset folder; neon: prepared-data folder (default: the user cache)
    # split files, relative to root (neon's prepared folder also holds the protocol split, see benchmark.data.neon)
    train_ann: str = "annotations/instances_train.json"
    train_images: str = "train"
    test_ann: str = "annotations/instances_test.json"
    test_images: str = "test"
    val_ann: str | None = None  # a validation split (choices are made on it; null: none)
    val_images: str | None = None
    input_size: int = 400  # native protocol: longest side resized to this many pixels (NEON tiles are 400x400)
    # native: the above; mmdet: mmdet's keep-ratio Resize to `scale`, filter_empty_gt, aspect-ratio grouped
    # batches, uint8 pixels (benchmark.data.protocol)
    protocol: str = "native"
    scale: tuple[int, ...] = (1333, 800)  # mmdet protocol: (long, short) edge limits of the keep-ratio resize
    hflip: bool = True  # random horizontal flip in training (p = 0.5)
    max_images: int | None = None  # use only the first N training images (quick tests)
    synthetic_images: int = 16  # synthetic only: images per split
    synthetic_size: int = 128
    synthetic_classes: int = 3
    synthetic_seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    """A detector from the zoo by name, with builder options and optional initial weights."""

    name: str = "retinanet_mnv2_fpn64"
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation schedule of one run; iteration-based (detection-style), single LR schedule."""

    iterations: int = 400
    batch_size: int = 2
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 100
    warmup_factor: float = 0.001
    schedule: str = "step"  # step | cosine | constant
    milestones: tuple[float, ...] = (0.75,)  # step schedule: fractions of `iterations`
    lr_gamma: float = 0.1
    grad_clip: float | None = 35.0
    # divergence guard: fail the run when a loss exceeds diverge_factor x the median of the previous
    # diverge_window losses (null: off). Not part of the run id (it stops a run, it does not change it).
    diverge_factor: float | None = 10.0
    diverge_window: int = 50
    checkpoint_every: int = 100
    log_every: int = 10
    num_threads: int = 2  # CPU threads (numerics depend on it: fix it per sweep)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    processes: int = 1  # DDP world size
    # GPU efficiency (benchmark.precision): autocast off | bf16 | fp16 (GradScaler); the distillation losses
    # are float32 in any mode; channels-last weights; torch.backends.cudnn.benchmark
    amp: str = "off"
    channels_last: bool = False
    cudnn_benchmark: bool = False
    num_workers: int = 0  # data-loader worker processes (0: load in the training process); same result either way
    prefetch_factor: int = 2  # batches each worker loads ahead


@dataclass(frozen=True)
class TeacherConfig:
    """A frozen teacher: explicit weights, or a teacher run (same data) trained with ``train``."""

    model: ModelConfig = field(default_factory=lambda: ModelConfig(name="faster_rcnn_mnv2_fpn256"))
    checkpoint: str | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0


@dataclass(frozen=True)
class StageConfig:
    """One stage of a stage-wise run: its teacher, its share of the iterations, its option overrides."""

    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    fraction: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DistillConfig:
    """Which method distils, from which teacher(s), on which levels."""

    method: str = "none"
    options: dict[str, Any] = field(default_factory=dict)
    teacher: TeacherConfig | None = None
    stages: tuple[StageConfig, ...] = ()  # non-empty: stage-wise run (overrides `teacher`)
    level_weights: dict[int, float] = field(default_factory=dict)  # stride -> weight (default 1.0)
    reinit_on_switch: bool = True  # new criterion modules at a teacher switch
    # teacher-feature cache (benchmark/cache): auto (fp32 when exact) | fp16 | off; above the size limit the
    # live teacher runs. Not part of the run id: an exact cache computes the same run (benchmark.run.resolve).
    teacher_cache: str = "auto"
    teacher_cache_max_gb: float = 20.0
    # teacher gate: a stage's teacher run must have reached this mAP (validation split if any, else test);
    # null: no gate. Not part of the run id.
    min_teacher_map: float | None = 0.01

    def stage_list(self) -> tuple[StageConfig, ...]:
        """The stages of this run: ``stages``, or one stage with ``teacher`` (empty without a teacher)."""
        if self.stages:
            return self.stages
        return (StageConfig(teacher=self.teacher),) if self.teacher is not None else ()


@dataclass(frozen=True)
class EvalConfig:
    every: int = 0  # evaluate every N iterations during training (validation split if any, else test); 0: end only
    score_thresh: float = 0.001
    max_detections: int = 100
    batch_size: int = 4
    eval_teacher: bool = True


@dataclass(frozen=True)
class TrackingConfig:
    wandb: bool = True
    mode: str = "auto"  # auto (online with a key, else offline) | online | offline | disabled
    project: str = "dfmsd-bench"
    entity: str | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourcesConfig:
    """Scheduler requests (Slurm); not part of the run id."""

    gpus: int = 0
    cpus: int = 2
    mem_gb: int = 16
    time_min: int = 120
    partition: str | None = None
    nodes: int = 1


@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    role: str = "student"  # student | teacher (a teacher run trains a model other runs distil from)
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def teacher_run_config(student: RunConfig, teacher: TeacherConfig) -> RunConfig:
    """The run that trains ``teacher`` on the student's data (its id is the dependency of the student)."""
    return RunConfig(
        name=f"teacher-{teacher.model.name}",
        role="teacher",
        seed=teacher.seed,
        data=student.data,
        model=teacher.model,
        train=teacher.train,
        distill=DistillConfig(),
        eval=student.eval,
        tracking=student.tracking,
        resources=student.resources,
    )


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_name(name: str, max_len: int = 80) -> str:
    """A string safe as one path component: no separators, no leading dots, bounded length."""
    s = _SAFE.sub("_", name).strip("._-")[:max_len]
    return s or "run"


# ---------------------------------------------------------------------------- (de)serialisation


def to_plain(obj: Any) -> Any:
    """Dataclasses → dicts, tuples → lists, recursively (YAML/JSON-ready)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj


def run_config_from_dict(data: Any, source: str = "<config>") -> RunConfig:
    """Parse and type-check a raw mapping; raise :class:`ConfigError` listing every problem."""
    problems: list[str] = []
    cfg = parse_dataclass(RunConfig, data, "", source, problems)
    if problems:
        raise ConfigError(problems)
    return cfg


def parse_dataclass(cls: type, data: Any, path: str, source: str, problems: list[str]) -> Any:
    """Build ``cls`` from ``data``, appending ``"<source>: <key>: <problem>"`` lines to ``problems``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{source}: {path or '<top>'}: expected a mapping, got {type(data).__name__}")
        return cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            problems.append(f"{source}: {_join(path, str(key))}: unknown key (allowed: {', '.join(sorted(names))})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _parse_value(hints[f.name], data[f.name], _join(path, f.name), source, problems)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - all fields have defaults
        problems.append(f"{source}: {path or '<top>'}: {exc}")
        return cls()


_OFF_SWITCHES = ("teacher_cache", "amp")  # string fields with an "off" value


FLOAT32_MAX = 3.4028234663852886e38


def finite_number(value: float) -> bool:
    """A number a float32 tensor can hold: not NaN, not infinite, at most ``FLOAT32_MAX`` in magnitude."""
    return math.isfinite(value) and abs(value) <= FLOAT32_MAX


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _parse_value(tp: Any, value: Any, path: str, source: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse_value(inner[0], value, path, source, problems)
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path, source, problems)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            value = [value] if isinstance(value, str | int | float) and args[0] is not type(...) else value
        if not isinstance(value, list | tuple):
            problems.append(f"{source}: {path}: expected a list, got {type(value).__name__}")
            return ()
        return tuple(_parse_value(args[0], v, f"{path}[{i}]", source, problems) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{source}: {path}: expected a mapping, got {type(value).__name__}")
            return {}
        kt, vt = args
        return {
            _parse_value(kt, k, f"{path}.{k}", source, problems): _parse_value(vt, v, f"{path}.{k}", source, problems)
            for k, v in value.items()
        }
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{source}: {path}: expected true/false, got {value!r}")
            return False
        return value
    if tp is int:
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{source}: {path}: expected an integer, got {value!r}")
            return 0
        return value
    if tp is float:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{source}: {path}: expected a number, got {value!r}")
            return 0.0
        if not finite_number(value):
            problems.append(f"{source}: {path}: must be a finite number (float32 range), got {value!r}")
            return 0.0
        return float(value)
    if tp is str:
        if value is False and path.rsplit(".", 1)[-1] in _OFF_SWITCHES:
            return "off"  # YAML 1.1 reads a bare `off` as false
        if not isinstance(value, str):
            problems.append(f"{source}: {path}: expected a string, got {value!r}")
            return ""
        return value
    return value  # pragma: no cover
