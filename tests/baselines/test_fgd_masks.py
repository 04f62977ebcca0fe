"""Object-aware box masks as DFMSDLoss uses them (E-a ``foreground``, E-c ``loss_weight``) on edge cases.

Documented behaviour (dfmsd/masks.py, FGD's extents): boxes scale by ``img_shape`` to the level, cover
``floor(min) .. ceil(max)`` inclusive, clip at the grid, a zero-area box covers one cell (a 2x2 block off the
grid lines), an image without boxes has no foreground.
"""

from __future__ import annotations

import pytest
import torch

from dfmsd import DFMSDLoss

H = W = 4  # 32 x 32 input, stride 8


def _block(rows: slice, cols: slice) -> torch.Tensor:
    out = torch.zeros(H, W)
    out[rows, cols] = 1.0
    return out


CASES = {
    "on_cell_boundaries": ([[8.0, 8.0, 16.0, 16.0]], (32, 32), _block(slice(1, 3), slice(1, 3))),
    "touching_border": ([[16.0, 16.0, 32.0, 32.0]], (32, 32), _block(slice(2, 4), slice(2, 4))),
    "whole_image": ([[0.0, 0.0, 32.0, 32.0]], (32, 32), torch.ones(H, W)),
    "zero_area_on_grid": ([[8.0, 8.0, 8.0, 8.0]], (32, 32), _block(slice(1, 2), slice(1, 2))),
    "zero_area_off_grid": ([[12.0, 12.0, 12.0, 12.0]], (32, 32), _block(slice(1, 3), slice(1, 3))),
    "no_boxes": (torch.zeros(0, 4), (32, 32), torch.zeros(H, W)),
    # img_shape (16, 32) inside a 32 x 32 padded batch: y scales by 16, so the mask stretches (FGD quirk)
    "smaller_than_pad": ([[0.0, 0.0, 8.0, 8.0]], (16, 32), _block(slice(0, 3), slice(0, 2))),
}


def _inputs(boxes, img_shape):
    gen = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(2, 4, H, W, generator=gen), torch.randn(2, 4, H, W, generator=gen)
    gt = [torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4), torch.zeros(0, 4)]
    metas = [{"img_shape": img_shape, "pad_shape": (32, 32)}, {"img_shape": (32, 32), "pad_shape": (32, 32)}]
    return student, teacher, gt, metas


@pytest.mark.parametrize("case", sorted(CASES))
def test_attention_enhancement_mask(case):
    boxes, img_shape, expected = CASES[case]
    student, teacher, gt, metas = _inputs(boxes, img_shape)
    crit = DFMSDLoss(4, 4, gamma=1.0, sem_align="none")
    terms = crit(student, teacher, gt, metas)
    assert torch.isfinite(terms["rec"])
    fg = crit.last_masks["foreground"]
    assert fg.shape == (2, H, W) and fg.dtype == torch.float32
    assert torch.equal(fg[0], expected)
    assert torch.equal(fg[1], torch.zeros(H, W))  # the second image has no boxes
    plain = DFMSDLoss(4, 4, enhance=False, sem_align="none")
    plain(student, teacher, gt, metas)
    torch.testing.assert_close(
        crit.last_masks["attention_spatial"],
        plain.last_masks["attention_spatial"] * (1 + torch.stack([expected, torch.zeros(H, W)])),
        rtol=0,
        atol=0,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_enhancement_weight(case):
    boxes, img_shape, expected = CASES[case]
    student, teacher, gt, metas = _inputs(boxes, img_shape)
    crit = DFMSDLoss(4, 4, enhance_mode="loss", gamma=2.0, sem_align="none")
    assert torch.isfinite(crit(student, teacher, gt, metas)["rec"])
    weight = crit.last_masks["loss_weight"]
    assert weight.shape == (2, 1, H, W)
    assert torch.equal(weight[1, 0], torch.ones(H, W))
    # a single box: its cells weigh 1 + gamma (normalised to the largest weight), the rest 1
    assert torch.equal(weight[0, 0], 1 + 2.0 * expected)


def test_overlapping_boxes_smaller_box_weighs_most():
    student, teacher, gt, metas = _inputs([[0.0, 0.0, 24.0, 24.0], [8.0, 8.0, 8.0, 8.0]], (32, 32))
    crit = DFMSDLoss(4, 4, enhance_mode="loss", gamma=1.0, sem_align="none")
    crit(student, teacher, gt, metas)
    weight = crit.last_masks["loss_weight"][0, 0]
    assert weight[1, 1] == 2.0  # the one-cell box: FGD weight 1, normalised to 1
    assert weight[0, 0] == 1.0 + 1.0 / 16  # big box: 4 x 4 cells (0..3 inclusive), weight 1/16
    assert weight[3, 3] == 1.0 + 1.0 / 16


def _loop_reference(gt_bboxes, img_metas, height, width):
    """The official FGD per-box loop (Python-scalar scaling per image)."""
    mask = torch.zeros(len(gt_bboxes), height, width)
    for i, (boxes, meta) in enumerate(zip(gt_bboxes, img_metas)):
        img_h, img_w = meta["img_shape"][0], meta["img_shape"][1]
        wmin = torch.floor(boxes[:, 0] / img_w * width).int()
        wmax = torch.ceil(boxes[:, 2] / img_w * width).int()
        hmin = torch.floor(boxes[:, 1] / img_h * height).int()
        hmax = torch.ceil(boxes[:, 3] / img_h * height).int()
        area = 1.0 / (hmax + 1 - hmin) / (wmax + 1 - wmin)
        for j in range(len(boxes)):
            cells = mask[i, hmin[j] : hmax[j] + 1, wmin[j] : wmax[j] + 1]
            mask[i, hmin[j] : hmax[j] + 1, wmin[j] : wmax[j] + 1] = torch.maximum(cells, area[j])
    return mask


def test_batched_scaling_matches_the_per_box_loop_with_mixed_image_shapes():
    from baselines.fgd_masks import foreground_weights

    gen = torch.Generator().manual_seed(0)
    for trial in range(40):
        metas, boxes = [], []
        for _ in range(4):
            h, w = int(torch.randint(40, 129, (1,), generator=gen)), int(torch.randint(40, 161, (1,), generator=gen))
            metas.append({"img_shape": (h, w, 3), "pad_shape": (128, 160, 3)})
            k = int(torch.randint(0, 6, (1,), generator=gen))
            grid = torch.randint(0, 21, (k, 4), generator=gen).float() * (4 if trial % 2 else w / 40)  # on cell lines
            xy = torch.minimum(grid[:, :2], torch.tensor([w - 1.0, h - 1.0]))
            boxes.append(torch.cat([xy, torch.minimum(xy + grid[:, 2:], torch.tensor([float(w), float(h)]))], 1))
        for height, width in ((16, 20), (8, 10), (3, 4)):
            got = foreground_weights(boxes, metas, height, width, dtype=torch.float32, device=torch.device("cpu"))
            assert torch.equal(got, _loop_reference(boxes, metas, height, width)), (trial, height)
