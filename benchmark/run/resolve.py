"""The resolved run: a run config plus every value the code fills in, computed once at the boundary.

:func:`resolve` turns a :class:`~benchmark.config.RunConfig` into a :class:`ResolvedRun`: the role
(``teacher`` | ``student``, a config field), the student's builder options with the builder's defaults filled in,
and per stage its teacher (the teacher run's id, or an explicit checkpoint), its iteration range and the fully
resolved criterion options (constructor default < method default < preset for the student's kind < run options
< stage options). Everything downstream (trainer, scheduler, reports) reads this object or its copy in the record
(``resolved.yaml``) instead of re-deriving defaults from today's code.

The run id hashes the *resolved* values (:func:`identity`), so a changed default, preset or builder default that
changes what a run computes changes its id, and restating a default does not. Left out: what never changes the
result (name, role, tracking, resources, the teacher-cache mode, checkpoint interval, data-loader workers and
prefetch, the divergence guard's settings), the data field the protocol does not read (``data.scale`` under ``native``,
``data.input_size`` under ``mmdet``) and, for fields added after records existed, the value that computes what a
config without the field computed (``NEUTRAL``). Numbers hash by value (``3`` and ``3.0`` are one run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.config import RunConfig, TeacherConfig, sanitize_name, teacher_run_config, to_plain

ROLES = ("student", "teacher")
UNHASHED = ("name", "role", "tracking", "resources")
UNHASHED_TRAIN = ("checkpoint_every", "num_workers", "prefetch_factor", "diverge_factor", "diverge_window")
UNHASHED_DISTILL = ("teacher_cache", "teacher_cache_max_gb", "min_teacher_map")
UNREAD_DATA = {"native": "scale", "mmdet": "input_size"}  # data.protocol -> the size field it does not read
# dotted field -> the value a config written before the field existed computes with (left out of the hash)
NEUTRAL: dict[str, Any] = {
    "data.val_ann": None,
    "data.val_images": None,
    "eval.every": 0,
    "data.protocol": "native",
    "train.amp": "off",
    "train.channels_last": False,
    "train.cudnn_benchmark": False,
}
# identity parts that belong to the distillation recipe, not to the student (see ResolvedRun.base_key)
DISTILLATION_ONLY = ("distill", "eval.eval_teacher", "model.options.inherit_from")


@dataclass(frozen=True)
class ResolvedStage:
    """One stage of a run with a teacher: iterations ``[start, end)``, its teacher and criterion options."""

    index: int
    start: int
    end: int
    fraction: float
    teacher: TeacherConfig
    teacher_run: str | None  # id of the teacher run that trains it; None with an explicit checkpoint
    teacher_model_options: Mapping[str, Any]
    options: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "fraction": self.fraction,
            "teacher": self.teacher.model.name,
            "teacher_run": self.teacher_run,
            "teacher_checkpoint": self.teacher.checkpoint,
            "teacher_model_options": to_plain(dict(self.teacher_model_options)),
            "options": to_plain(dict(self.options)),
        }


@dataclass(frozen=True)
class ResolvedRun:
    """A run config with everything resolved; ``run_id`` hashes :func:`identity`.

    ``config_key`` is the identity without the seed (seed replicates share it); ``base_key`` is that without the
    distillation recipe (the student trained alone shares it with its distilled runs).
    """

    config: RunConfig
    role: str
    run_id: str
    model_options: Mapping[str, Any]
    options: Mapping[str, Any]  # run-level criterion options (stages may override): {} without a criterion
    stages: tuple[ResolvedStage, ...]
    config_key: str
    base_key: str

    @property
    def method(self) -> str:
        return self.config.distill.method

    def stage_at(self, iteration: int) -> int:
        """Index of the stage that runs the step with 0-based index ``iteration`` (0 without stages)."""
        for stage in self.stages:
            if stage.start <= iteration < stage.end:
                return stage.index
        return max(len(self.stages) - 1, 0)

    def to_dict(self) -> dict[str, Any]:
        """What ``resolved.yaml`` holds (docs/record-format.md)."""
        return {
            "run_id": self.run_id,
            "role": self.role,
            "method": self.method,
            "config_key": self.config_key,
            "base_key": self.base_key,
            "model_options": to_plain(dict(self.model_options)),
            "options": to_plain(dict(self.options)),
            "stages": [s.to_dict() for s in self.stages],
        }


def _canonical(value: Any) -> Any:
    """Numbers by value (int 3 == float 3.0), tuples as lists, mappings with string keys, recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return str(value)


def digest(data: Any, length: int = 10) -> str:
    blob = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def _drop_neutral(data: dict[str, Any]) -> None:
    for dotted, value in NEUTRAL.items():
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node and _canonical(node[leaf]) == _canonical(value):
            del node[leaf]


def identity(cfg: RunConfig, model_options: Mapping[str, Any], stages: tuple[ResolvedStage, ...]) -> dict[str, Any]:
    """What decides the result of ``cfg``: the config with resolved model and criterion options, each stage's
    teacher by its run id (or checkpoint and resolved model options), run-independent fields left out."""
    data = {k: v for k, v in cfg.to_dict().items() if k not in UNHASHED}
    data["data"].pop(UNREAD_DATA.get(cfg.data.protocol, ""), None)
    data["model"]["options"] = to_plain(dict(model_options))
    data["train"] = {k: v for k, v in data["train"].items() if k not in UNHASHED_TRAIN}
    distill = {k: v for k, v in data["distill"].items() if k not in (*UNHASHED_DISTILL, "teacher", "stages", "options")}
    distill["stages"] = [
        {
            "fraction": s.fraction,
            "options": to_plain(dict(s.options)),
            "teacher": {"run": s.teacher_run}
            if s.teacher_run
            else {
                "checkpoint": s.teacher.checkpoint,
                "model": s.teacher.model.name,
                "model_options": to_plain(dict(s.teacher_model_options)),
            },
        }
        for s in stages
    ]
    data["distill"] = distill
    _drop_neutral(data)
    return data


def _without(data: dict[str, Any], dotted: tuple[str, ...]) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    for key in dotted:
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    return out


def _student_kind(name: str) -> str | None:
    from benchmark.zoo import get_card, known_model

    if not known_model(name):
        return None
    try:
        return get_card(name).kind
    except Exception:  # an mmdet config that does not build: validation reports it
        return None


def _model_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    from benchmark.zoo import known_model, resolved_options

    return resolved_options(name, options) if known_model(name) else dict(options)


def _resolve(cfg: RunConfig) -> ResolvedRun:
    from benchmark.distill.methods import METHODS
    from benchmark.run.stages import stage_bounds

    role = cfg.role if cfg.role in ROLES else "student"
    method = METHODS.get(cfg.distill.method) if cfg.distill.method in METHODS else None
    kind = _student_kind(cfg.model.name)  # None for an unknown model: no preset applies (validation reports it)

    def options_of(extra: Mapping[str, Any]) -> dict[str, Any]:
        written = {**cfg.distill.options, **extra}
        if method is None or method.option_problems(written):
            return dict(written)
        return method.resolve_options(kind or "", written)

    run_options = options_of({}) if method is None or method.needs_teacher else {}
    stages: list[ResolvedStage] = []
    stage_cfgs = cfg.distill.stage_list() if method is None or method.needs_teacher else ()
    fractions = [s.fraction for s in stage_cfgs]
    bounds = (
        stage_bounds(fractions, cfg.train.iterations) if all(f > 0 for f in fractions) else [(0, 0)] * len(stage_cfgs)
    )
    for k, (stage, (start, end)) in enumerate(zip(stage_cfgs, bounds)):
        teacher_run = None if stage.teacher.checkpoint else run_id(teacher_run_config(cfg, stage.teacher))
        stages.append(
            ResolvedStage(
                index=k,
                start=start,
                end=end,
                fraction=stage.fraction,
                teacher=stage.teacher,
                teacher_run=teacher_run,
                teacher_model_options=_model_options(stage.teacher.model.name, stage.teacher.model.options),
                options=options_of(stage.options),
            )
        )
    model_options = _model_options(cfg.model.name, cfg.model.options)
    ident = identity(cfg, model_options, tuple(stages))
    prefix = sanitize_name(f"{cfg.model.name}-{cfg.distill.method}-s{cfg.seed}")
    unseeded = _without(ident, ("seed",))
    return ResolvedRun(
        config=cfg,
        role=role,
        run_id=f"{prefix}-{digest(ident)}",
        model_options=model_options,
        options=run_options,
        stages=tuple(stages),
        config_key=digest(unseeded, 12),
        base_key=digest(_without(unseeded, DISTILLATION_ONLY), 12),
    )


_CACHE: dict[str, ResolvedRun] = {}


def resolve(cfg: RunConfig) -> ResolvedRun:
    """The :class:`ResolvedRun` of ``cfg`` (memoised on the config's content)."""
    key = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    if key not in _CACHE:
        _CACHE[key] = _resolve(cfg)
    return _CACHE[key]


def run_id(cfg: RunConfig) -> str:
    """``<model>-<method>-s<seed>-<hash10>``: the id of ``cfg``'s resolved run."""
    return resolve(cfg).run_id
