"""The detector zoo: model cards and builders by name (timm-style registry, torchvision-style builders).

``MODELS`` (:mod:`benchmark.zoo.registry`) maps a name to a :class:`ModelEntry` (card + keyword-only builder),
registered by ``@register_model`` in each builder module. :func:`build_detector`
turns a :class:`~benchmark.config.ModelConfig` into a :class:`~benchmark.zoo.base.Detector`, checking the
options against the builder's signature first and loading ``checkpoint`` when one is given.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.config import ConfigError, ModelConfig
from benchmark.zoo import faster_rcnn, fcos, retinanet  # noqa: F401  (their builders register themselves)
from benchmark.zoo.base import Detector, FeatureBatch
from benchmark.zoo.card import FPNLevel, ModelCard
from benchmark.zoo.mmdet.configs import is_mmdet_name
from benchmark.zoo.registry import MODELS, ModelEntry

__all__ = [
    "MODELS",
    "Detector",
    "FPNLevel",
    "FeatureBatch",
    "ModelCard",
    "ModelEntry",
    "build_detector",
    "builder_options",
    "get_card",
    "known_model",
    "list_models",
    "option_problems",
    "resolved_options",
]


def _entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise ConfigError([f"unknown model {name!r}; known: {', '.join(MODELS.names())}"])
    return MODELS.get(name)


def known_model(name: str) -> bool:
    """A registered zoo name, or an ``mmdet:`` model (any mmdet config; see :mod:`benchmark.zoo.mmdet`)."""
    return name in MODELS or is_mmdet_name(name)


def get_card(name: str) -> ModelCard:
    if is_mmdet_name(name):
        from benchmark.zoo.mmdet import mmdet_card

        return mmdet_card(name)
    return _entry(name).card


def list_models() -> list[str]:
    return MODELS.names()


def builder_options(name: str) -> dict[str, inspect.Parameter]:
    """The options a model's builder accepts (``num_classes`` comes from the dataset, not from options)."""
    params = inspect.signature(_entry(name).builder).parameters
    return {k: p for k, p in params.items() if k != "num_classes" and p.kind is p.KEYWORD_ONLY}


def _type_ok(value: Any, annotation: Any) -> bool:
    allowed = typing.get_args(annotation) or (annotation,)
    if value is None:
        return type(None) in allowed
    if isinstance(value, bool):
        return bool in allowed
    return any(isinstance(value, t) for t in allowed if isinstance(t, type) and t is not bool) or (
        float in allowed and isinstance(value, int)
    )


def resolved_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The builder options a model is built with: every builder default, overridden by ``options`` (for mmdet
    models, ``options`` as given: they edit the mmdet config, whose own defaults are the config file's)."""
    if is_mmdet_name(name):
        return dict(options)
    defaults = {k: p.default for k, p in builder_options(name).items() if p.default is not p.empty}
    return {**defaults, **options}


def option_problems(name: str, options: Mapping[str, Any]) -> list[str]:
    """One line per option the model's builder does not take or whose type it does not accept."""
    if is_mmdet_name(name):
        from benchmark.zoo.mmdet.configs import option_problems

        return option_problems(dict(options))
    accepted = builder_options(name)
    hints = typing.get_type_hints(_entry(name).builder)
    problems = []
    for key, value in options.items():
        if key not in accepted:
            problems.append(f"model {name!r} has no option {key!r} (accepted: {', '.join(sorted(accepted))})")
        elif not _type_ok(value, hints.get(key, Any)):
            problems.append(f"model {name!r} option {key!r}: expected {hints[key]}, got {value!r}")
    return problems


def load_checkpoint(detector: Detector, path: str | Path) -> None:
    """Load a plain ``state_dict`` or ``{"model": state_dict}`` (``weights_only=True``), strictly."""
    from benchmark.checkpoints import load_torch_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = load_torch_file(path)
    if isinstance(state, Mapping) and isinstance(state.get("model"), Mapping):
        state = state["model"]
    if not isinstance(state, Mapping):
        raise ValueError(f"checkpoint {path}: expected a state_dict or {{'model': state_dict}}, got {type(state)}")
    try:
        detector.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ValueError(f"checkpoint {path} does not fit model {detector.card.name}: {' '.join(first[:2])}") from None


def build_detector(cfg: ModelConfig, *, num_classes: int) -> Detector:
    """Build ``cfg.name`` with ``cfg.options`` for ``num_classes`` foreground classes, then load ``cfg.checkpoint``."""
    if is_mmdet_name(cfg.name):
        from benchmark.zoo.mmdet import build_mmdet_detector

        return build_mmdet_detector(cfg, num_classes=num_classes)
    entry = _entry(cfg.name)
    problems = option_problems(cfg.name, cfg.options)
    if problems:
        raise ConfigError(problems)
    detector = entry.builder(num_classes=num_classes, **cfg.options)
    if cfg.checkpoint:
        load_checkpoint(detector, cfg.checkpoint)
    return detector
