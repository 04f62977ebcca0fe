"""The masked-feature generator of MGD (Yang et al., ECCV 2022, Eq. 2): Conv3x3 → ReLU → Conv3x3.

Shared by the MGD baseline (as its ``generation`` submodule) and DFMSD/DMKD (one per masking branch), so
state dicts of all three use the same layout (``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``).
"""

from __future__ import annotations

from torch import nn


def generation_block(channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, kernel_size=3, padding=1),
    )
