"""Numerical properties of DFMSDLoss on small tensors (gradients, selection, invariance, determinism, MGD)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from baselines.fgd import attention_maps
from dfmsd import DFMSDLoss
from dfmsd.enhancement import foreground_binary

CONFIGS = [
    {},
    {"sem_align": "adapter"},
    {"sem_align": "cwd", "fusion": "free"},
    {"sem_align": "none", "enhance_mode": "loss", "loss_region": "masked"},
    {"dual": "spatial", "enhance_mode": "ratio", "align_position": "after"},
    {"dual": "channel", "enhance_channel": True, "mask_select": "bottom"},
    {"mask_type": "soft", "fusion": "fixed"},
]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_gradients_reach_student_and_modules_never_teacher(make_inputs, options):
    student, teacher, boxes, metas = make_inputs()
    student.requires_grad_(True)
    teacher.requires_grad_(True)
    teacher_before = teacher.detach().clone()
    torch.manual_seed(0)
    crit = DFMSDLoss(8, 12, **options)
    terms = crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(1))
    assert "rec" in terms and (("align" in terms) == (crit.sem_align != "none"))
    sum(terms.values()).backward()
    assert teacher.grad is None
    assert torch.equal(teacher.detach(), teacher_before)
    assert student.grad is not None and student.grad.abs().sum() > 0
    for name, param in crit.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    names = {n.split(".")[0] for n, _ in crit.named_parameters()}
    expected = {"align"}
    expected |= {"generation_spatial"} if crit.dual != "channel" else set()
    expected |= {"generation_channel"} if crit.dual != "spatial" else set()
    expected |= {"fuse_logits"} if crit.dual == "both" and crit.fusion == "softmax" else set()
    expected |= {"fuse_weights"} if crit.dual == "both" and crit.fusion == "free" else set()
    expected |= {"sem_adapter"} if crit.sem_align == "adapter" else set()
    assert names == expected


def test_spatial_only_has_no_channel_branch_and_same_channels_no_align():
    crit = DFMSDLoss(12, 12, dual="spatial")
    assert crit.align is None
    assert not hasattr(crit, "generation_channel") and not hasattr(crit, "fuse_logits")
    assert crit.fusion_weights() is None


@pytest.mark.parametrize(("h", "w", "c", "ratio"), [(6, 8, 12, 0.65), (2, 5, 10, 0.7), (4, 4, 7, 0.45), (3, 3, 5, 1.0)])
def test_top_selection_masks_exactly_the_highest_attention(make_inputs, h, w, c, ratio):
    student, teacher, boxes, metas = make_inputs(c_s=c, c_t=c, h=h, w=w)
    crit = DFMSDLoss(c, c, ratio_spatial=ratio, ratio_channel=ratio, enhance=False, sem_align="none", temp=0.5)
    crit(student, teacher, boxes, metas)
    masks = crit.last_masks
    att_s, att_c = attention_maps(teacher, 0.5)
    assert torch.equal(masks["attention_spatial"], att_s) and torch.equal(masks["attention_channel"], att_c)
    k_s = math.ceil(round(ratio * h * w, 9))
    k_c = math.ceil(round(ratio * c, 9))
    for i in range(teacher.shape[0]):
        spatial = masks["spatial"][i, 0].flatten()
        channel = masks["channel"][i].flatten()
        assert set(spatial.unique().tolist()) <= {0.0, 1.0} and masks["spatial"].dtype == torch.float32
        assert int((spatial == 0).sum()) == k_s and int((channel == 0).sum()) == k_c
        scores = att_s[i].flatten()
        if k_s < h * w:
            assert scores[spatial == 0].min() > scores[spatial == 1].max()
        if k_c < c:
            assert att_c[i][channel == 0].min() > att_c[i][channel == 1].max()


def test_bottom_selection_masks_the_lowest(make_inputs):
    student, teacher, boxes, metas = make_inputs()
    crit = DFMSDLoss(8, 12, mask_select="bottom", enhance=False, sem_align="none")
    crit(student, teacher, boxes, metas)
    att = crit.last_masks["attention_spatial"].flatten(1)
    keep = crit.last_masks["spatial"].flatten(1)
    assert int((keep == 0).sum()) == 2 * math.ceil(0.65 * 48)
    for i in range(2):
        assert att[i][keep[i] == 0].max() < att[i][keep[i] == 1].min()


def _box_share(crit, teacher, boxes, metas, student):
    crit(student, teacher, boxes, metas)
    fg = foreground_binary(boxes, metas, teacher.shape[2], teacher.shape[3], device=teacher.device)
    masked = crit.last_masks["spatial"][:, 0] == 0
    return float((masked & (fg > 0)).sum()) / float(masked.sum())


def test_enhancement_raises_share_of_masked_cells_inside_boxes(make_inputs):
    student, teacher, _, metas = make_inputs(c_s=12, c_t=12, h=6, w=8)
    gen = torch.Generator().manual_seed(3)
    teacher = 0.3 * torch.randn(2, 12, 6, 8, generator=gen)
    teacher[:, :, :3, :4] += 0.4  # the top-attention region is the top-left quadrant ...
    boxes = [torch.tensor([[32.0, 24.0, 56.0, 40.0]])] * 2  # ... the object sits bottom-right
    base = DFMSDLoss(12, 12, ratio_spatial=0.3, enhance=False, sem_align="none")
    share_plain = _box_share(base, teacher, boxes, metas, student)
    shares = []
    for gamma in (0.0, 0.5, 4.0):
        crit = DFMSDLoss(12, 12, ratio_spatial=0.3, gamma=gamma, sem_align="none")
        crit.load_state_dict(base.state_dict())
        shares.append(_box_share(crit, teacher, boxes, metas, student))
    assert shares[0] == share_plain < 0.5
    assert shares[0] < shares[1] < shares[2]


def test_ratio_and_loss_enhancement(make_inputs):
    student, teacher, boxes, metas = make_inputs()
    crit = DFMSDLoss(8, 12, ratio_spatial=0.5, ratio_channel=0.5, enhance_mode="ratio", gamma=1.0, ratio_step=0.15)
    crit(student, teacher, boxes, metas)
    assert int((crit.last_masks["spatial"][0] == 0).sum()) == math.ceil(0.65 * 48)
    assert int((crit.last_masks["channel"][0] == 0).sum()) == math.ceil(0.65 * 12)
    plain = DFMSDLoss(8, 12, enhance=False, sem_align="none")
    weighted = DFMSDLoss(8, 12, enhance_mode="loss", gamma=2.0, sem_align="none")
    weighted.load_state_dict(plain.state_dict())
    rec_w = weighted(student, teacher, boxes, metas)["rec"]
    weight = weighted.last_masks["loss_weight"]
    assert weight.shape == (2, 1, 6, 8) and weight.min() == 1.0 and weight.max() == 3.0
    rec_plain = plain(student, teacher, boxes, metas)["rec"]
    assert torch.equal(weighted.last_masks["spatial"], plain.last_masks["spatial"])  # E-c leaves the masks alone
    assert rec_w > rec_plain


def test_pkd_alignment_invariant_to_teacher_channel_affine(make_inputs):
    student, teacher, boxes, metas = make_inputs()
    gen = torch.Generator().manual_seed(7)
    scale = torch.rand(1, 12, 1, 1, generator=gen) * 9.9 + 0.1
    shift = torch.randn(1, 12, 1, 1, generator=gen) * 5
    crit = DFMSDLoss(8, 12)
    ref = crit(student, teacher, boxes, metas)
    masks_ref = dict(crit.last_masks)
    moved = crit(student, teacher * scale + shift, boxes, metas)
    torch.testing.assert_close(moved["align"], ref["align"], rtol=1e-5, atol=0)
    # reconstruction runs in the normalised space (align_position='before'): same masks, same target
    assert torch.equal(crit.last_masks["spatial"], masks_ref["spatial"])
    torch.testing.assert_close(moved["rec"], ref["rec"], rtol=1e-5, atol=0)
    raw = DFMSDLoss(8, 12, sem_align="none")
    assert not torch.allclose(
        raw(student, teacher * scale + shift, boxes, metas)["rec"], raw(student, teacher, boxes, metas)["rec"]
    )


@pytest.mark.parametrize("options", [{}, {"mask_select": "bottom", "sem_align": "adapter"}, {"mask_type": "soft"}])
def test_deterministic_selection_needs_no_rng(make_inputs, options):
    student, teacher, boxes, metas = make_inputs()
    torch.manual_seed(0)
    crit = DFMSDLoss(8, 12, **options)
    twin = copy.deepcopy(crit)
    state = torch.get_rng_state()
    first = crit(student, teacher, boxes, metas)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(1234)
    second = twin(student.clone(), teacher.clone(), boxes, metas)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    again = crit(student, teacher, boxes, metas)
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_stochastic_selections_follow_the_generator(make_inputs):
    student, teacher, boxes, metas = make_inputs()
    for select in ("bernoulli", "random"):
        crit = DFMSDLoss(8, 12, mask_select=select, sem_align="none")
        a = crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(5))["rec"]
        masks_a = dict(crit.last_masks)
        b = crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(5))["rec"]
        assert torch.equal(a, b) and torch.equal(masks_a["channel"], crit.last_masks["channel"])
        crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(6))
        assert not torch.equal(masks_a["spatial"], crit.last_masks["spatial"])


def test_bernoulli_prefers_high_attention(make_inputs):
    student, teacher, boxes, metas = make_inputs(c_s=4, c_t=4, h=16, w=16)
    teacher[:, :, :8] *= 4.0
    crit = DFMSDLoss(4, 4, mask_select="bernoulli", enhance=False, sem_align="none", temp=1.0, ratio_spatial=0.3)
    crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(0))
    masked = crit.last_masks["spatial"][:, 0] == 0
    assert masked[:, :8].sum() > 2 * masked[:, 8:].sum()


def _mgd_formula(student, teacher, align, generation, ratio, alpha, generator):
    n, _, h, w = teacher.shape
    mat = torch.rand((n, 1, h, w), generator=generator)
    mask = torch.where(mat > 1 - ratio, 0, 1).to(student.device)
    new_fea = generation(torch.mul(align(student), mask))
    return torch.nn.functional.mse_loss(new_fea, teacher, reduction="sum") / n * alpha


MGD_LIKE = {"dual": "spatial", "mask_select": "random", "enhance": False, "sem_align": "none"}


@pytest.mark.parametrize(("alpha", "ratio"), [(2e-5, 0.65), (5e-7, 0.45)])
def test_reduces_to_mgd_formula(make_inputs, alpha, ratio):
    student, teacher, boxes, metas = make_inputs()
    crit = DFMSDLoss(8, 12, ratio_spatial=ratio, alpha=alpha, **MGD_LIKE)
    ours = crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(11))["rec"]
    ref = _mgd_formula(
        student, teacher, crit.align, crit.generation_spatial, ratio, alpha, torch.Generator().manual_seed(11)
    )
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)
    torch.manual_seed(3)
    ours_global = crit(student, teacher, boxes, metas)["rec"]
    torch.manual_seed(3)
    ref_global = _mgd_formula(student, teacher, crit.align, crit.generation_spatial, ratio, alpha, None)
    torch.testing.assert_close(ours_global, ref_global, rtol=1e-6, atol=0)


@pytest.mark.parametrize("channels", [(8, 12), (12, 12)])
def test_reduces_to_mgd_loss_module(make_inputs, channels):
    mgd = pytest.importorskip("baselines.mgd")
    c_s, c_t = channels
    student, teacher, boxes, metas = make_inputs(c_s=c_s, c_t=c_t)
    baseline = mgd.MGDLoss(c_s, c_t, alpha_mgd=2e-5, lambda_mgd=0.65)
    crit = DFMSDLoss(c_s, c_t, ratio_spatial=0.65, alpha=2e-5, **MGD_LIKE)
    state = {k.replace("generation.", "generation_spatial."): v for k, v in baseline.state_dict().items()}
    crit.load_state_dict(state, strict=True)
    ours = crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(4))["rec"]
    ref = baseline(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(4))["mgd"]
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dual": "triple"}, "dual='triple'"),
        ({"mask_select": "middle"}, "mask_select='middle'"),
        ({"ratio_spatial": 1.5}, "ratio_spatial=1.5"),
        ({"mask_type": "soft", "mask_select": "random"}, "mask_type='soft'"),
        ({"sem_align": "kl"}, "sem_align='kl'"),
        ({"gamma": -1.0}, "gamma=-1.0"),
    ],
)
def test_bad_options_fail_with_one_line(options, message):
    with pytest.raises(ValueError, match="DFMSDLoss: " + message.replace("[", r"\[")) as info:
        DFMSDLoss(8, 12, **options)
    assert "\n" not in str(info.value)


def test_shape_mismatch_and_missing_boxes_fail(make_inputs):
    student, teacher, boxes, metas = make_inputs()
    crit = DFMSDLoss(8, 12)
    with pytest.raises(ValueError, match="same N, H, W"):
        crit(student[:, :, :4], teacher, boxes, metas)
    with pytest.raises(ValueError, match="enhance=True with gamma > 0 needs gt_bboxes"):
        crit(student, teacher)
    assert "rec" in DFMSDLoss(8, 12, enhance=False)(student, teacher)
    no_op = DFMSDLoss(8, 12, gamma=0.0)  # a first stage with gamma 0 needs no boxes and builds no foreground
    assert "rec" in no_op(student, teacher) and "foreground" not in no_op.last_masks
