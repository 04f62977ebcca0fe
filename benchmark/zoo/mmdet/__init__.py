"""The mmdetection 3.x back end: any mmdet config (and checkpoint) as a teacher or a student.

A :class:`~benchmark.config.ModelConfig` whose name starts with ``mmdet:`` names an mmdet config (see
:mod:`benchmark.zoo.mmdet.configs` for the name forms and builder options). :func:`build_mmdet_detector`
builds it as a :class:`~benchmark.zoo.base.Detector` (:class:`~benchmark.zoo.mmdet.adapter.MMDetDetector`)
that our trainer, evaluator and distillers drive like any other; :func:`mmdet_card` gives its model card
without building real weights (meta device; cached on disk under ``<cache>/mmdet-cards``).

mmdet, mmengine and mmcv are an optional extra (``scripts/install_mm.sh``); this module imports them only
when a ``mmdet:`` model is built, so the rest of the suite runs without them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.config import ConfigError, ModelConfig
from benchmark.zoo.card import FPNLevel, ModelCard
from benchmark.zoo.mmdet.configs import DEFAULT_INHERIT_PREFIXES, PREFIX, TINY_CONFIGS, is_mmdet_name

if TYPE_CHECKING:
    from torch import nn

    from benchmark.zoo.mmdet.adapter import MMDetDetector
    from benchmark.zoo.mmdet.configs import ResolvedConfig

__all__ = ["PREFIX", "TINY_CONFIGS", "available", "build_mmdet_detector", "is_mmdet_name", "mmdet_card"]

CARD_CACHE_VERSION = 1


def available() -> bool:
    """Whether the mmdet extra is installed (mmdet, mmengine and mmcv with compiled ops)."""
    return all(importlib.util.find_spec(m) is not None for m in ("mmdet", "mmengine", "mmcv"))


def _require(name: str) -> None:
    if not available():
        raise ConfigError(
            [f"model.name: {name}: the mmdet back end is not installed; run scripts/install_mm.sh (or install.sh --mm)"]
        )
    from mmdet.utils import register_all_modules

    register_all_modules(init_default_scope=True)


@contextlib.contextmanager
def _quiet_mmengine() -> Iterator[None]:
    """mmengine logs every parameter's init at INFO; keep its warnings only, inside the block."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _build_model(resolved: ResolvedConfig, *, meta: bool = False) -> nn.Module:
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict

    spec = ConfigDict(copy.deepcopy(resolved.model))  # mmdet reads sub-configs as attributes
    if meta:
        with torch.device("meta"):
            return MODELS.build(spec)
    return MODELS.build(spec)


def _weights_note(cfg: ModelConfig, resolved: ResolvedConfig) -> str:
    opts = cfg.options
    if cfg.checkpoint:
        return f"checkpoint {cfg.checkpoint}"
    parts = ["random init"]
    if opts.get("backbone_checkpoint"):
        parts = [f"backbone {opts['backbone_checkpoint']}"]
    if opts.get("inherit_from"):
        parts.append(
            f"{'/'.join(opts.get('inherit_prefixes') or DEFAULT_INHERIT_PREFIXES)} from {opts['inherit_from']}"
        )
    return "; ".join(parts)


def _card_key(resolved: ResolvedConfig, flops_input: tuple[int, int]) -> str:
    import mmdet

    blob = json.dumps(
        [CARD_CACHE_VERSION, mmdet.__version__, resolved.model, list(flops_input)], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _card_cache_path(key: str) -> Path:
    from benchmark.paths import cache_dir

    return cache_dir() / "mmdet-cards" / f"{key}.json"


def _read_cached_card(key: str) -> ModelCard | None:
    path = _card_cache_path(key)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        data["levels"] = tuple(FPNLevel(**lv) for lv in data["levels"])
        data["flops_input"] = tuple(data["flops_input"])
        return ModelCard(**data)
    except (ValueError, TypeError, KeyError):
        return None  # an unreadable cache entry is recomputed


def _write_cached_card(key: str, card: ModelCard) -> None:
    from benchmark.atomic import atomic_write_text

    path = _card_cache_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(dataclasses.asdict(card), indent=1))


def _card(
    cfg: ModelConfig, resolved: ResolvedConfig, model: nn.Module | None, flops_input: tuple[int, int]
) -> ModelCard:
    """The card of ``resolved`` (disk cache, else measured on ``model`` or on a meta/CPU build)."""
    from benchmark.zoo.mmdet.card import card_from_model

    name = f"{PREFIX}{resolved.name}"
    weights = _weights_note(cfg, resolved)
    key = _card_key(resolved, flops_input)
    card = _read_cached_card(key)
    if card is None:
        notes = f"config {resolved.source}"
        if resolved.dropped_init:
            notes += f"; pretrained init dropped (no downloads): {', '.join(resolved.dropped_init)}"
        if model is None:
            try:  # no weights, no arithmetic
                card = card_from_model(
                    _build_model(resolved, meta=True), name=name, weights="", flops_input=flops_input, notes=notes
                )
            except (RuntimeError, NotImplementedError, TypeError):  # Swin's build, mmcv ops: no meta kernels
                card = card_from_model(
                    _build_model(resolved), name=name, weights="", flops_input=flops_input, notes=notes
                )
        else:
            card = card_from_model(model, name=name, weights="", flops_input=flops_input, notes=notes)
        _write_cached_card(key, card)
    return dataclasses.replace(card, name=name, weights=weights)


def mmdet_card(cfg: ModelConfig | str, *, num_classes: int | None = None) -> ModelCard:
    """The model card of an ``mmdet:`` model, without building its weights (cached on disk)."""
    from benchmark.zoo.mmdet.configs import flops_input_of, resolve_config

    cfg = ModelConfig(name=cfg) if isinstance(cfg, str) else cfg
    _require(cfg.name)
    resolved = resolve_config(cfg.name, cfg.options, num_classes=num_classes)
    return _card(cfg, resolved, None, flops_input_of(resolved, cfg.options))


def _load_checkpoint(model: nn.Module, path: str) -> None:
    """A detector checkpoint: mmdet's (``state_dict``, mmdet keys) or our trainer's (``model``, ``model.`` keys)."""
    from benchmark.zoo.mmdet.checkpoint import load_state_dict_file, load_weights

    keys = list(load_state_dict_file(path))
    if keys and all(k.startswith("model.") for k in keys):  # an MMDetDetector state dict (our run records)
        from torch import nn

        holder = nn.Module()
        holder.model = model
        load_weights(holder, path, strict=True)
    else:
        load_weights(model, path, strict=True)


def build_mmdet_detector(cfg: ModelConfig, *, num_classes: int | None = None) -> MMDetDetector:
    """Build the ``mmdet:`` model ``cfg`` for ``num_classes`` classes (``options.num_classes`` wins).

    Order: mmdet's ``init_weights`` (random init, or ``backbone_checkpoint``), then ``inherit_from``
    (the listed prefixes only), then ``cfg.checkpoint`` (all weights, strict).
    """
    from benchmark.checkpoints import mm_safe_globals
    from benchmark.zoo.mmdet.adapter import MMDetDetector
    from benchmark.zoo.mmdet.checkpoint import load_weights
    from benchmark.zoo.mmdet.configs import flops_input_of, resolve_config

    _require(cfg.name)
    resolved = resolve_config(cfg.name, cfg.options, num_classes=num_classes)
    if cfg.checkpoint and not Path(cfg.checkpoint).expanduser().is_file():
        raise FileNotFoundError(f"model.checkpoint: {cfg.checkpoint}: no such file")
    model = _build_model(resolved)
    with mm_safe_globals(), _quiet_mmengine():  # backbone_checkpoint: mmengine's loader (torch.load default)
        model.init_weights()
    if cfg.options.get("inherit_from"):
        prefixes = cfg.options.get("inherit_prefixes") or DEFAULT_INHERIT_PREFIXES
        load_weights(model, str(Path(cfg.options["inherit_from"]).expanduser()), prefixes=prefixes, strict=True)
    if cfg.checkpoint:
        _load_checkpoint(model, str(Path(cfg.checkpoint).expanduser()))
    card = _card(cfg, resolved, model, flops_input_of(resolved, cfg.options))
    return MMDetDetector(model, card)
