"""FGD's scale-aware box masks on a feature level (Yang et al., CVPR 2022, Eq. 4-6), vectorised.

FGD (Yang et al., CVPR 2022, Eq. 4-6) marks every feature cell covered by a ground-truth box with
``1 / (box area in cells)`` (the smallest covering box wins where boxes overlap) and spreads a uniform
background weight over the remaining cells. This module computes the same values as the official
per-box loop without iterating over boxes, including its quirks, which we keep on purpose for parity:

* boxes are scaled to the level by ``img_metas[i]['img_shape']`` (not ``pad_shape``), so for an image
  smaller than the padded batch the mask is stretched over the padding;
* extents are ``floor(x1) .. ceil(x2)`` *inclusive* (a box on exact cell boundaries covers one more
  cell on its max side; a zero-area box still covers one cell, or a 2x2 block off the grid lines);
* the area weight is computed in float32 as ``1.0 / rows / cols`` whatever the feature dtype;
* an image without boxes has an all-zero foreground and a uniform background ``1 / (H*W)``.

Box corners are clamped at 0 (a valid box never has negative coordinates; the official slice would wrap).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _scale(coord: Tensor, size: Tensor | int, cells: int) -> Tensor:
    """``coord / size * cells`` rounded as the official loop rounds ``coord / <python number> * cells`` on this
    device: true division on the CPU; on CUDA ATen multiplies by the float reciprocal of a scalar divisor, so a
    per-box divisor tensor does the same (``1 / size`` first) to stay bit-exact."""
    if isinstance(size, Tensor) and coord.device.type == "cuda":
        return coord * (1.0 / size) * cells
    return coord / size * cells


def box_cell_extents(boxes: Tensor, img_shape: tuple[int, int] | Tensor, height: int, width: int) -> Tensor:
    """Inclusive cell extents ``(hmin, hmax, wmin, wmax)`` as an int64 (n, 4) tensor. ``img_shape`` is one
    ``(h, w)`` for all boxes or a per-box (n, 2) tensor of ``(h, w)`` on the boxes' device."""
    if isinstance(img_shape, Tensor):
        img_h, img_w = img_shape[:, 0], img_shape[:, 1]
    else:
        img_h, img_w = int(img_shape[0]), int(img_shape[1])
    x1 = torch.floor(_scale(boxes[:, 0], img_w, width))
    x2 = torch.ceil(_scale(boxes[:, 2], img_w, width))
    y1 = torch.floor(_scale(boxes[:, 1], img_h, height))
    y2 = torch.ceil(_scale(boxes[:, 3], img_h, height))
    return torch.stack([y1, y2, x1, x2], dim=1).to(torch.int32).to(torch.int64).clamp_(min=0)


def foreground_weights(
    gt_bboxes: list[Tensor], img_metas: list[dict], height: int, width: int, *, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """FGD's ``Mask_fg`` (N, H, W): ``max_j 1/area_j`` over the boxes covering each cell, else 0.

    All images' boxes are scaled in one batch (no loop over images or boxes), each by its own ``img_shape``."""
    n = len(gt_bboxes)
    counts = [int(b.shape[0]) for b in gt_bboxes]
    jmax = max(counts, default=0)
    if jmax == 0:
        return torch.zeros(n, height, width, dtype=dtype, device=device)
    boxes = torch.cat([b for b in gt_bboxes if b.shape[0]]).to(device)
    # per box: (img_h, img_w, image index, slot in the image), one asynchronous host-to-device copy
    rows = [
        (float(img_metas[i]["img_shape"][0]), float(img_metas[i]["img_shape"][1]), float(i), float(j))
        for i, k in enumerate(counts)
        for j in range(k)
    ]
    table = torch.tensor(rows, dtype=torch.float64)
    if torch.device(device).type == "cuda":
        table = table.pin_memory()
    table = table.to(device, non_blocking=True)
    image, slot = table[:, 2].long(), table[:, 3].long()
    ext = torch.full((n, jmax, 4), -1, dtype=torch.int64, device=device)  # padding boxes cover nothing
    ext[image, slot] = box_cell_extents(boxes, table[:, :2].to(boxes.dtype), height, width)
    hmin, hmax, wmin, wmax = ext.unbind(-1)  # (N, J)
    valid = hmax >= 0
    area = 1.0 / (hmax + 1 - hmin).to(torch.int32) / (wmax + 1 - wmin).to(torch.int32)  # float32, FGD order
    area = torch.where(valid, area, torch.zeros_like(area))
    # The covering box of largest weight per cell, without an (N, J, H, W) intermediate: rank the boxes by
    # weight, then one float64 batched matmul gives sum_j in_j(h, w) * 2^rank_j per cell (an exact integer for
    # up to 52 boxes per chunk), whose highest set bit (frexp) is the winning rank.
    area, order = torch.sort(area, dim=1)  # rank 0 = smallest weight (padding boxes: 0, cover nothing)
    hmin, hmax, wmin, wmax = (torch.gather(t, 1, order) for t in (hmin, hmax, wmin, wmax))
    rows = torch.arange(height, device=device).view(1, 1, -1)
    cols = torch.arange(width, device=device).view(1, 1, -1)
    in_rows = ((rows >= hmin.unsqueeze(-1)) & (rows <= hmax.unsqueeze(-1))).to(torch.float64)  # (N, J, H)
    in_cols = ((cols >= wmin.unsqueeze(-1)) & (cols <= wmax.unsqueeze(-1))).to(torch.float64)  # (N, J, W)
    winner = torch.zeros(n, height, width, dtype=torch.int64, device=device)  # 0: no box, else rank + 1
    for start in range(0, jmax, 52):
        stop = min(start + 52, jmax)
        bits = torch.exp2(torch.arange(stop - start, dtype=torch.float64, device=device)).view(1, -1, 1)
        code = torch.bmm((in_rows[:, start:stop] * bits).transpose(1, 2), in_cols[:, start:stop])  # (N, H, W)
        top = torch.frexp(code).exponent.to(torch.int64) + start  # highest set bit + 1, offset by the chunk
        winner = torch.maximum(winner, torch.where(code > 0, top, 0))
    weights = torch.cat([torch.zeros(n, 1, dtype=area.dtype, device=device), area], dim=1)
    return torch.gather(weights, 1, winner.view(n, -1)).view(n, height, width).to(dtype)


def background_weights(fg: Tensor) -> Tensor:
    """FGD's ``Mask_bg``: 1 on cells outside every box, normalised to sum 1 per image (0 if none)."""
    bg = (fg <= 0).to(fg.dtype)
    total = bg.sum(dim=(1, 2), keepdim=True)
    return torch.where(total > 0, bg / total.clamp(min=1), bg)
