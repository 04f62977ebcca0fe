"""Model cards of mmdet detectors, read off the built model.

* levels: one per neck output, named ``p<log2 stride>``; channels from a forward; strides from the dense
  head's prior generator (the anchors/points the head was built for), else from the feature sizes.
* family: the detector class in snake case (``RetinaNet`` -> ``retinanet``, ``RepPointsDetector`` ->
  ``reppoints``); stages: 2 for mmdet's ``TwoStageDetector`` subclasses, else 1.
* params: every parameter; FLOPs: :class:`torch.utils.flop_counter.FlopCounterMode` (a multiply-add is
  2 FLOPs) of one ``flops_input`` image through ``extract_feat`` and the dense head (``bbox_head``, or
  ``rpn_head`` of a two-stage model). Two-stage models add their RoI heads fed with pooled features of
  the test-time proposal count (``test_cfg.rpn.max_per_img``, 1000 in mmdet's configs) for the box
  heads and of ``test_cfg.rcnn.max_per_img`` (100) detections for the mask heads, every cascade stage
  included; RoIAlign and NMS count 0, as in the torchvision zoo's measurement. Counted on a meta-device
  copy (no arithmetic). mmcv's deformable convolutions have no meta kernel: on that copy they run as the
  plain convolution of the same shape (same multiply-adds; the bilinear sampling is not counted, like
  RoIAlign), plus their offset conv. Anything else without a meta kernel is counted on the real model.
"""

from __future__ import annotations

import copy
import math
import re
import types

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmark.zoo.card import FPNLevel, ModelCard

_FAMILIES = {"RepPointsDetector": "reppoints", "RetinaNet": "retinanet", "FCOS": "fcos", "GFL": "gfl"}


def family_of(model: nn.Module) -> str:
    name = type(model).__name__
    if name in _FAMILIES:
        return _FAMILIES[name]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.removesuffix("Detector")).lower()


def stages_of(model: nn.Module) -> int:
    from mmdet.models.detectors import TwoStageDetector

    return 2 if isinstance(model, TwoStageDetector) else 1


def dense_head(model: nn.Module) -> nn.Module:
    """The head run on every FPN level: ``bbox_head`` (one-stage) or ``rpn_head`` (two-stage)."""
    head = getattr(model, "bbox_head", None) or getattr(model, "rpn_head", None)
    if head is None:
        raise ValueError(f"{type(model).__name__}: no bbox_head or rpn_head to read the level strides from")
    return head


def head_strides(model: nn.Module) -> list[int] | None:
    """Strides of the dense head's prior generator (square strides only), or None without one."""
    generator = getattr(dense_head(model), "prior_generator", None)
    strides = getattr(generator, "strides", None)
    if not strides:
        return None
    out = []
    for s in strides:
        sh, sw = (s, s) if isinstance(s, int | float) else s
        if sh != sw:
            raise ValueError(f"{type(model).__name__}: non-square stride {s} is not supported")
        out.append(int(sh))
    return out


def _as_list(module: nn.Module | None) -> list[nn.Module]:
    if module is None:
        return []
    return list(module) if isinstance(module, nn.ModuleList) else [module]


def _roi_heads(model: nn.Module, device: torch.device) -> None:
    """Run every RoI box/mask head of ``model`` on zero RoI features of its test-time RoI counts."""
    roi = getattr(model, "roi_head", None)
    if roi is None:
        return
    test_cfg = model.test_cfg
    counts = {"bbox": int(test_cfg["rpn"]["max_per_img"]), "mask": int(test_cfg["rcnn"]["max_per_img"])}
    for kind, n in counts.items():
        heads = _as_list(getattr(roi, f"{kind}_head", None))
        extractors = _as_list(getattr(roi, f"{kind}_roi_extractor", None)) or _as_list(roi.bbox_roi_extractor)
        for i, head in enumerate(heads):
            extractor = extractors[min(i, len(extractors) - 1)]
            size = extractor.roi_layers[0].output_size
            head(torch.zeros(n, extractor.out_channels, *size, device=device))


def _deform_as_conv(self: nn.Module, x: Tensor, *_offsets: Tensor) -> Tensor:
    """FLOP-count surrogate of an mmcv deformable conv: its offset conv (Pack variants) and a plain conv."""
    if hasattr(self, "conv_offset"):
        self.conv_offset(x)
    return F.conv2d(x, self.weight, getattr(self, "bias", None), self.stride, self.padding, self.dilation, self.groups)


def _meta_copy(model: nn.Module) -> nn.Module:
    """A weightless copy of ``model`` for counting, deformable convs replaced by :func:`_deform_as_conv`."""
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d

    meta = copy.deepcopy(model).to("meta").eval()
    for module in meta.modules():
        if isinstance(module, DeformConv2d | ModulatedDeformConv2d):
            module.forward = types.MethodType(_deform_as_conv, module)
    return meta


def _run(model: nn.Module, image: Tensor) -> tuple[tuple[Tensor, ...], float]:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        feats = model.extract_feat(image)
        dense_head(model)(feats)
        _roi_heads(model, image.device)
    return tuple(feats), float(counter.get_total_flops())


def measure(model: nn.Module, flops_input: tuple[int, int]) -> tuple[tuple[Tensor, ...], float]:
    """Neck outputs (shapes) and FLOPs of one ``flops_input`` image; meta copy first, else on the model."""
    device = next(model.parameters()).device
    try:
        return _run(_meta_copy(model), torch.zeros(1, 3, *flops_input, device="meta"))
    except (NotImplementedError, RuntimeError, TypeError):
        if device.type == "meta":
            raise  # no real weights to run instead: the caller builds on the CPU
    was_training = model.training
    model.eval()
    try:
        return _run(model, torch.zeros(1, 3, *flops_input, device=device))
    finally:
        model.train(was_training)


def card_from_model(
    model: nn.Module, *, name: str, weights: str, flops_input: tuple[int, int], notes: str = ""
) -> ModelCard:
    """The :class:`ModelCard` of a built mmdet detector (see the module docstring for each field)."""
    feats, flops = measure(model, flops_input)
    strides = head_strides(model)
    if strides is None or len(strides) != len(feats):
        strides = [2 ** round(math.log2(flops_input[0] / f.shape[-2])) for f in feats]
    if len(set(strides)) != len(strides):
        raise ValueError(f"{name}: neck outputs share a stride ({strides}); levels must have distinct strides")
    levels = tuple(
        FPNLevel(name=f"p{int(math.log2(s))}", channels=int(f.shape[1]), stride=s) for f, s in zip(feats, strides)
    )
    stages = stages_of(model)
    counted = "backbone+neck+" + ("rpn_head+RoI heads at test-time RoI counts" if stages == 2 else "bbox_head")
    return ModelCard(
        name=name,
        backend="mmdet",
        family=family_of(model),
        stages=stages,
        levels=levels,
        params=sum(p.numel() for p in model.parameters()),
        flops=flops,
        flops_input=flops_input,
        weights=weights,
        notes="; ".join(n for n in (f"FLOPs: {counted}", notes) if n),
        extra={"detector": type(model).__name__, "backbone": type(model.backbone).__name__},
    )
