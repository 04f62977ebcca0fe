"""Which mmdet model a ``mmdet:...`` model name means, and the builder options applied to its config.

A name after the ``mmdet:`` prefix is one of

* a config file: ``mmdet:/path/to/retinanet_r50_fpn_2x_coco.py`` (an existing ``.py`` file);
* a config packaged with mmdet (``mmdet/.mim/configs``), by file stem, with or without its folder and
  ``.py``: ``mmdet:retinanet_r50_fpn_2x_coco`` or ``mmdet:retinanet/retinanet_r50_fpn_2x_coco.py``;
* a tiny CPU test model of :data:`TINY_CONFIGS` (``mmdet:tiny_retinanet``, ...): a packaged base model
  with a ResNet-18-layout backbone of 16 base channels, a 32-channel FPN and one-conv heads.

Only ``model = dict(...)`` of a config is used: data pipelines, schedules and runtime belong to our
harness. Builder options (``model.options`` of a run config), all optional:

=========================  =====================================================================
``num_classes``            classes of the box (and mask) heads; default: the data's class count
``checkpoint``             (run config ``model.checkpoint``) full detector weights, strict
``backbone_checkpoint``    local ImageNet weights of the backbone (loaded by mmdet's own
                           ``Pretrained`` init, so key conversions such as Swin's apply)
``inherit_from``           a detector checkpoint whose ``inherit_prefixes`` weights initialise the
                           model: FGD/MGD's "inheriting strategy" (``init_student=True``)
``inherit_prefixes``       default ``["neck.", "bbox_head."]``
``cfg``                    ``{"dotted.key": value}`` overrides of the model config (mmengine
                           ``merge_from_dict`` on ``model``), e.g. ``{"bbox_head.loss_cls.gamma": 1.5}``
``flops_input``            ``[h, w]`` of the FLOPs count on the card; default ``[800, 1344]``
                           (tiny models: ``[256, 256]``)
=========================  =====================================================================

Every ``Pretrained`` ``init_cfg`` of a packaged config that points to a URL or ``torchvision://`` /
``open-mmlab://`` is dropped: nothing downloads weights at run time (``backbone_checkpoint`` instead).
"""

from __future__ import annotations

import copy
import difflib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from benchmark.config import ConfigError

PREFIX = "mmdet:"
DEFAULT_FLOPS_INPUT = (800, 1344)  # mmdet's 1333x800 test scale, padded to the size divisor 32
TINY_FLOPS_INPUT = (256, 256)  # P7 of 2x2: GroupNorm needs more than one value per group
OPTIONS = (
    "num_classes",
    "backbone_checkpoint",
    "inherit_from",
    "inherit_prefixes",
    "cfg",
    "flops_input",
)
DEFAULT_INHERIT_PREFIXES = ("neck.", "bbox_head.")

# A ResNet-18 layout (BasicBlock, 2-2-2-2) with 16 base channels: stage outputs 16, 32, 64, 128.
_TINY_BACKBONE = {"depth": 18, "base_channels": 16, "init_cfg": None, "norm_eval": False, "frozen_stages": -1}
_TINY_ALL_STAGES = [16, 32, 64, 128]

TINY_CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    # name: (packaged base config, dotted overrides of its model dict)
    "tiny_retinanet": (
        "_base_/models/retinanet_r50_fpn.py",
        {
            **{f"backbone.{k}": v for k, v in _TINY_BACKBONE.items()},
            "neck.in_channels": _TINY_ALL_STAGES,
            "neck.out_channels": 32,
            "bbox_head.in_channels": 32,
            "bbox_head.feat_channels": 32,
            "bbox_head.stacked_convs": 1,
            "test_cfg.nms_pre": 200,
        },
    ),
    "tiny_faster_rcnn": (
        "_base_/models/faster-rcnn_r50_fpn.py",
        {
            **{f"backbone.{k}": v for k, v in _TINY_BACKBONE.items()},
            "neck.in_channels": _TINY_ALL_STAGES,
            "neck.out_channels": 32,
            "rpn_head.in_channels": 32,
            "rpn_head.feat_channels": 32,
            "roi_head.bbox_roi_extractor.out_channels": 32,
            "roi_head.bbox_head.in_channels": 32,
            "roi_head.bbox_head.fc_out_channels": 64,
            "train_cfg.rpn.sampler.num": 64,
            "train_cfg.rpn_proposal.nms_pre": 200,
            "train_cfg.rpn_proposal.max_per_img": 100,
            "train_cfg.rcnn.sampler.num": 64,
            "test_cfg.rpn.nms_pre": 200,
            "test_cfg.rpn.max_per_img": 100,
        },
    ),
    "tiny_fcos": (  # caffe-style: BGR input, std 1, frozen BN; the other normalisation path
        "fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py",
        {
            **{f"backbone.{k}": v for k, v in _TINY_BACKBONE.items()},
            "neck.in_channels": _TINY_ALL_STAGES,
            "neck.out_channels": 32,
            "bbox_head.in_channels": 32,
            "bbox_head.feat_channels": 32,
            "bbox_head.stacked_convs": 1,
            "test_cfg.nms_pre": 200,
        },
    ),
}


@dataclass(frozen=True)
class ResolvedConfig:
    """An mmdet model config (a plain dict for ``MODELS.build``) and where it came from."""

    name: str  # the model name without the prefix
    source: str  # the config file read
    model: dict[str, Any]
    tiny: bool
    dropped_init: tuple[str, ...]  # pretrained-weight references removed (no downloads)


def is_mmdet_name(name: str) -> bool:
    return name.startswith(PREFIX)


def packaged_config_root() -> Path:
    """``mmdet/.mim/configs`` of the installed mmdet."""
    import mmdet

    root = Path(mmdet.__file__).parent / ".mim" / "configs"
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: mmdet's packaged configs are missing (reinstall mmdet==3.3.0)")
    return root


@cache
def _packaged_index() -> dict[str, Path]:
    """Packaged model configs by ``folder/stem`` and by bare stem (unique stems only)."""
    root = packaged_config_root()
    index: dict[str, Path] = {}
    stems: dict[str, list[Path]] = {}
    for path in sorted(root.glob("*/*.py")):
        if path.parent.name == "_base_":
            continue
        index[f"{path.parent.name}/{path.stem}"] = path
        stems.setdefault(path.stem, []).append(path)
    index.update({stem: paths[0] for stem, paths in stems.items() if len(paths) == 1})
    return index


def list_packaged_configs() -> list[str]:
    """``folder/stem`` of every model config packaged with mmdet."""
    return sorted(k for k in _packaged_index() if "/" in k)


def _config_path(name: str) -> Path:
    path = Path(name).expanduser()
    if name.endswith(".py") and path.is_file():
        return path
    index = _packaged_index()
    key = name.removesuffix(".py")
    if key in index:
        return index[key]
    if name.endswith(".py"):
        raise FileNotFoundError(f"model.name: {PREFIX}{name}: no such config file")
    close = difflib.get_close_matches(key, list(index) + list(TINY_CONFIGS), n=4, cutoff=0.6)
    hint = f"; close: {', '.join(close)}" if close else ""
    raise ConfigError(
        [f"model.name: {PREFIX}{name}: no such mmdet config (a .py path, a packaged config stem or tiny_*){hint}"]
    )


def _load_model_dict(path: Path) -> dict[str, Any]:
    """``model`` of the config file ``path`` as plain dicts (a fresh copy; files are parsed once per process)."""
    return copy.deepcopy(_parse_model_dict(str(path.resolve()), path.stat().st_mtime_ns))


@cache
def _parse_model_dict(path: str, _mtime_ns: int) -> dict[str, Any]:
    from mmengine.config import Config

    cfg = Config.fromfile(path)
    if "model" not in cfg:
        raise ConfigError([f"model.name: {path}: the config defines no `model`"])
    return cfg.model.to_dict()


def _drop_remote_init(node: Any, path: str, dropped: list[str]) -> None:
    """Remove every ``init_cfg`` of type Pretrained whose checkpoint is not a local file (in place)."""
    if isinstance(node, dict):
        init = node.get("init_cfg")
        for item in init if isinstance(init, list) else [init]:
            if isinstance(item, dict) and item.get("type") == "Pretrained":
                ckpt = str(item.get("checkpoint", ""))
                if not os.path.isfile(ckpt):
                    dropped.append(f"{path or 'model'}: {ckpt}")
                    node["init_cfg"] = None
        for key, value in node.items():
            if key != "init_cfg":
                _drop_remote_init(value, f"{path}.{key}" if path else key, dropped)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _drop_remote_init(value, f"{path}[{i}]", dropped)


def _merge(model: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    from mmengine.config import Config

    cfg = Config({"model": model})
    cfg.merge_from_dict({f"model.{k}": v for k, v in overrides.items()})
    return cfg.model.to_dict()


def _set_num_classes(model: dict[str, Any], num_classes: int) -> None:
    """Set the class count of every box/mask head (cascade stages included); the RPN stays class-agnostic."""

    def heads(node: Any) -> list[dict[str, Any]]:
        return [h for h in (node if isinstance(node, list) else [node]) if isinstance(h, dict)]

    targets = heads(model.get("bbox_head"))
    roi = model.get("roi_head") or {}
    targets += heads(roi.get("bbox_head")) + heads(roi.get("mask_head"))
    if not targets:
        raise ConfigError([f"model.options.num_classes: the {model.get('type')} config has no head with classes"])
    for head in targets:
        if "num_classes" in head:
            head["num_classes"] = num_classes


def option_problems(options: dict[str, Any]) -> list[str]:
    """One line per unknown or malformed builder option, or weights file that does not exist."""
    problems = [
        f"mmdet models have no option {k!r} (accepted: {', '.join(OPTIONS)})" for k in options if k not in OPTIONS
    ]
    n = options.get("num_classes")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        problems.append(f"option 'num_classes': expected a positive integer, got {n!r}")
    fi = options.get("flops_input")
    if fi is not None and not (
        isinstance(fi, list | tuple) and len(fi) == 2 and all(isinstance(v, int) and v >= 32 for v in fi)
    ):
        problems.append(f"option 'flops_input': expected [h, w] integers >= 32, got {fi!r}")
    if "cfg" in options and not isinstance(options["cfg"], dict):
        problems.append(f"option 'cfg': expected a mapping of dotted keys, got {options['cfg']!r}")
    prefixes = options.get("inherit_prefixes")
    if prefixes is not None and not (isinstance(prefixes, list | tuple) and all(isinstance(p, str) for p in prefixes)):
        problems.append(f"option 'inherit_prefixes': expected a list of strings, got {prefixes!r}")
    for key in ("backbone_checkpoint", "inherit_from"):
        path = options.get(key)
        if path is not None and not Path(str(path)).expanduser().is_file():
            problems.append(f"option {key!r}: no such file: {path}")
    return problems


def resolve_config(
    name: str, options: dict[str, Any] | None = None, *, num_classes: int | None = None
) -> ResolvedConfig:
    """The mmdet model dict for ``name`` (prefix optional) with ``options`` applied; nothing is built."""
    options = dict(options or {})
    problems = option_problems(options)
    if problems:
        raise ConfigError([f"model.options: {p}" for p in problems])
    name = name.removeprefix(PREFIX)
    if name in TINY_CONFIGS:
        base, overrides = TINY_CONFIGS[name]
        source = packaged_config_root() / base
        model = _merge(_load_model_dict(source), overrides)
    else:
        source = _config_path(name)
        model = _load_model_dict(source)
    if options.get("cfg"):
        model = _merge(model, options["cfg"])
    dropped: list[str] = []
    _drop_remote_init(model, "", dropped)
    if options.get("backbone_checkpoint"):
        ckpt = Path(str(options["backbone_checkpoint"])).expanduser()
        model["backbone"]["init_cfg"] = {"type": "Pretrained", "checkpoint": str(ckpt)}
    classes = options.get("num_classes", num_classes)
    if classes is not None:
        _set_num_classes(model, int(classes))
    preprocessor = model.get("data_preprocessor") or {}
    if preprocessor.get("batch_augments"):  # resizing/cropping belongs to our data pipeline, not the model
        preprocessor["batch_augments"] = None
    return ResolvedConfig(
        name=name,
        source=str(source),
        model=copy.deepcopy(model),
        tiny=name in TINY_CONFIGS,
        dropped_init=tuple(dropped),
    )


def flops_input_of(resolved: ResolvedConfig, options: dict[str, Any] | None) -> tuple[int, int]:
    fi = (options or {}).get("flops_input")
    if fi is not None:
        return (int(fi[0]), int(fi[1]))
    return TINY_FLOPS_INPUT if resolved.tiny else DEFAULT_FLOPS_INPUT
