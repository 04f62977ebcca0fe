"""DFMSD: Dual Feature Masking Stage-wise Knowledge Distillation (Zhang, Li, Wu, Shen, Xu, 2024,
arXiv 2407.13147) and its predecessor DMKD (Yang et al., ICASSP 2024, arXiv 2309.02719): one FPN level.

**The papers' words (abstracts only; the method sections were not available):**
DMKD: a "dual attention mechanism" guides a spatial and a channel masking branch; the two reconstructed
features are fused by a "self-adjustable weighting strategy". DFMSD: masked regions of the student are
reconstructed from the teacher, attention picks "spatially important regions" and "crucial object-aware
channel clues"; a "stage-wise adaptation learning module" adapts the student progressively to the "teacher
models"; a "masking enhancement strategy", "combined with stage-wise learning", adaptively strengthens
"object-aware masking regions"; "semantic alignment is performed at each FPN layer ... for generating
consistent feature distributions".

**Our reading** (reference note ``dfmsd_method.md`` §4-§6, every formula below is a reconstruction)::

    F_S' = align(F_S)                                  1x1 conv when channel counts differ (MGD)
    F_T  = stop_grad(F_T)
    (A-a) F_S', F_T <- norm(F_S'), norm(F_T);  L_align = mse(F_S', F_T) / 2      (PKD, before masking)
    A_S, A_C = attention_maps(F_T, T)                  FGD Eq. 1-3, teacher only (D8)
    (E-a) A_S <- A_S * (1 + gamma * fg)                fg = GT box cells at this level (FGD extents)
    M_S = keep mask of A_S (top ceil(r_s*H*W) masked), M_C = keep mask of A_C (top ceil(r_c*C) masked)
    R   = w_S * G_S(F_S' * M_S) + w_C * G_C(F_S' * M_C),  (w_S, w_C) = softmax(theta)
    L_rec = mean((R - F_T)^2)  with alignment on,  ||R - F_T||^2 / N  without (MGD's reduction)
    returns {"rec": alpha * L_rec, "align": beta * L_align}

Open choices, the implemented default and the option that selects each alternative:

====  ===========================================  =======================================================
 id    default                                      alternatives (option=value)
====  ===========================================  =======================================================
 D1    mask the top-attention elements              ``mask_select='bottom'`` (lowest), ``'bernoulli'``
       (``mask_select='top'``)                      (p = min(1, r*A/mean A)), ``'random'`` (MGD's mask)
 D2    hard binary masks (``mask_type='hard'``)     ``mask_type='soft'`` (keep 1 - A/max A; ratios unused)
 D3    ``ratio_spatial = ratio_channel = 0.65``     any ratio; presets: 0.65 one-stage, 0.45 two-stage
       (0.45 for two-stage students)
 D4    ``temp=0.5`` (FGD)                           any temperature
 D5    softmax of 2 learnable logits, init 0        ``fusion='fixed'`` (0.5/0.5, no parameters),
       (``fusion='softmax'``)                       ``fusion='free'`` (two learnable scalars, init 0.5)
 D6    loss over the full map (``loss_region=      ``loss_region='masked'``: only elements masked in a
       'full'``, MGD)                               branch (union over branches); mean over those elements
 D7    ``alpha=3`` with the mean error (middle of   ``rec_reduction='auto'`` takes MGD's sum / N when
       the note's {1, 3, 6}, PKD's scale) whenever  ``sem_align='none'`` (DMKD/MGD, alpha 2e-5 one-stage,
       alignment is on                              5e-7 two-stage) and the mean otherwise;
                                                    ``rec_reduction='sum'|'mean'`` forces either (ablate
                                                    alignment under ``dfmsd`` with ``sem_align='none',
                                                    rec_reduction='mean'`` to keep alpha's scale)
 D8    attention from the teacher only, no grad     none implemented (the note lists no alternative)
 E-a   ``enhance=True, enhance_mode='attention'``,  ``enhance=False``; ``enhance_channel=True`` also pools
       ``gamma`` from the stage schedule            the channel attention with weights 1 + gamma*fg
 E-b   --                                           ``enhance_mode='ratio'``: r <- min(1, r + gamma *
                                                    ``ratio_step``) (default step 0.15: 0.5 -> 0.65)
 E-c   --                                           ``enhance_mode='loss'``: error weight 1 + gamma *
                                                    fg_w / max fg_w (FGD scale-aware weights)
 A-a   ``sem_align='pkd'``, ``beta=6``,             ``align_position='after'``: reconstruct the raw
       reconstruction in the normalised space       teacher, alignment only as its own term
       (``align_position='before'``)
 A-b   --                                           ``sem_align='adapter'``: Conv1x1+BN on the student,
                                                    mse to F_T; 'before' feeds the adapter output to the
                                                    generators
 A-c   --                                           ``sem_align='cwd'`` (temperature ``tau``), always
                                                    'after'; ``sem_align='none'`` switches alignment off
 S-a   teacher curriculum, realised by the trainer: a run config lists ``distill.stages`` with two teachers,
       e.g. ``[{teacher: <homogeneous bigger>, fraction: 0.5, options: {gamma: 0.0}},
       {teacher: <heterogeneous target>, fraction: 0.5, options: {gamma: 1.0}}]``; the trainer rebuilds
       this criterion with each stage's options (``distill.reinit_on_switch`` re-creates its modules).
 S-b   one teacher, staged options: the same teacher in every stage with different options, e.g.
       ``[{options: {alpha: 0.0}}, {options: {alpha: 3.0}}]`` (alignment first, then masked
       reconstruction) or a ratio/gamma ramp (with ``enhance_mode='ratio'``: E-b).
 S-c   no dedicated module; the closest expression is staged options ``sem_align='adapter'`` (a learnable
       bridge) in early stages and ``'pkd'`` (adapter removed) in the last one.
====  ===========================================  =======================================================

DMKD (preset ``dmkd``) is this criterion with one stage, ``enhance=False`` and ``sem_align='none'``.
With ``dual='spatial', mask_select='random', enhance=False, sem_align='none'`` and MGD's alpha and ratio,
``rec`` is MGD's loss on the same tensors and generator (same mask draw, same reduction).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.fgd import attention_maps
from baselines.fgd_masks import foreground_weights
from baselines.mgd import generation_block
from benchmark.distill.methods import register_method
from dfmsd.enhancement import (
    ENHANCE_MODES,
    foreground_binary,
    object_channel_attention,
    object_loss_weight,
    object_spatial_attention,
    staged_ratio,
)
from dfmsd.selection import MASK_SELECTS, MASK_TYPES, channel_keep_mask, spatial_keep_mask
from dfmsd.semantic import SEM_ALIGNS, cwd_loss, pkd_align_loss, semantic_adapter

DUALS = ("both", "spatial", "channel")
FUSIONS = ("softmax", "fixed", "free")
ALIGN_POSITIONS = ("before", "after")
LOSS_REGIONS = ("full", "masked")
REC_REDUCTIONS = ("auto", "sum", "mean")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"DFMSDLoss: {name}={value!r} is not one of {', '.join(map(repr, choices))}")


def _check_ratio(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"DFMSDLoss: {name}={value} is a masked fraction and must lie in [0, 1]")


# Defaults follow the reference note's starting points (the papers' values were not available): one-stage students
# (RetinaNet/RepPoints/FCOS/GFL, P3-P7) mask 65 %, two-stage students (Faster/Mask R-CNN, P2-P5) 45 % (MGD's
# ratios); T = 0.5; beta = 6 on PKD-normalised features. DFMSD's reconstruction runs on normalised targets (mean
# reduction, alpha = 3); DMKD's on raw targets with MGD's reduction and weights (alpha = 2e-5 / 5e-7).
_SHARED = {"temp": 0.5, "dual": "both", "mask_select": "top", "mask_type": "hard", "fusion": "softmax"}
_RATIOS = {
    "one_stage": {"ratio_spatial": 0.65, "ratio_channel": 0.65},
    "two_stage": {"ratio_spatial": 0.45, "ratio_channel": 0.45},
}
_DMKD_ALPHA = {"one_stage": 2e-5, "two_stage": 5e-7}


@register_method(
    "dfmsd",
    display="DFMSD",
    weights=("alpha", "beta"),
    description="DFMSD (our reading): teacher-attention dual (spatial+channel) masked generation, GT-box masking "
    "enhancement scheduled by stage (gamma), PKD semantic alignment per FPN level",
    defaults={
        **_SHARED,
        "enhance": True,
        "enhance_mode": "attention",
        "gamma": 1.0,
        "sem_align": "pkd",
        "align_position": "before",
        "alpha": 3.0,
        "beta": 6.0,
    },
    presets={kind: dict(ratios) for kind, ratios in _RATIOS.items()},
)
@register_method(
    "dmkd",
    display="DMKD",
    weights=("alpha", "beta"),
    description="DMKD (our reading): teacher-attention dual masked generation fused by softmax weights, one stage, "
    "no enhancement, no alignment, MGD weights",
    defaults={**_SHARED, "enhance": False, "sem_align": "none"},
    presets={kind: {**ratios, "alpha": _DMKD_ALPHA[kind]} for kind, ratios in _RATIOS.items()},
)
class DFMSDLoss(nn.Module):
    """Per-level DFMSD/DMKD criterion (see the module docstring for the paper's words and our reading).

    Submodules: ``align`` (1x1 conv, only when channel counts differ, else ``None``), ``generation_spatial``
    and/or ``generation_channel`` (:func:`baselines.mgd.generation_block`, per branch of ``dual``),
    ``fuse_logits`` (``fusion='softmax'``) or ``fuse_weights`` (``'free'``) when both branches exist, and
    ``sem_adapter`` for ``sem_align='adapter'``. Returns ``{"rec": ..., "align": ...}`` (``align`` only when
    ``sem_align != 'none'``), already weighted by ``alpha`` / ``beta``. After a forward, ``last_masks`` holds
    the detached masks it used: ``spatial`` (N,1,H,W) / ``channel`` (N,C,1,1) keep masks (1 kept, 0 masked),
    ``attention_spatial`` (N,H,W) and ``attention_channel`` (N,C) after enhancement, and with ``gamma > 0``
    ``foreground`` (N,H,W, binary) for E-a or ``loss_weight`` (N,1,H,W) for E-c.
    """

    def __init__(
        self,
        student_channels: int,
        teacher_channels: int,
        *,
        temp: float = 0.5,
        ratio_spatial: float = 0.65,
        ratio_channel: float = 0.65,
        dual: str = "both",
        mask_select: str = "top",
        mask_type: str = "hard",
        fusion: str = "softmax",
        enhance: bool = True,
        enhance_mode: str = "attention",
        enhance_channel: bool = False,
        gamma: float = 1.0,
        ratio_step: float = 0.15,
        sem_align: str = "pkd",
        align_position: str = "before",
        tau: float = 1.0,
        alpha: float = 3.0,
        beta: float = 6.0,
        loss_region: str = "full",
        rec_reduction: str = "auto",
    ) -> None:
        super().__init__()
        for name, value, choices in (
            ("dual", dual, DUALS),
            ("mask_select", mask_select, MASK_SELECTS),
            ("mask_type", mask_type, MASK_TYPES),
            ("fusion", fusion, FUSIONS),
            ("enhance_mode", enhance_mode, ENHANCE_MODES),
            ("sem_align", sem_align, SEM_ALIGNS),
            ("align_position", align_position, ALIGN_POSITIONS),
            ("loss_region", loss_region, LOSS_REGIONS),
            ("rec_reduction", rec_reduction, REC_REDUCTIONS),
        ):
            _check_choice(name, value, choices)
        _check_ratio("ratio_spatial", ratio_spatial)
        _check_ratio("ratio_channel", ratio_channel)
        if mask_type == "soft" and mask_select not in ("top", "bottom"):
            raise ValueError(f"DFMSDLoss: mask_type='soft' needs mask_select 'top' or 'bottom', not {mask_select!r}")
        if temp <= 0 or tau <= 0:
            raise ValueError(f"DFMSDLoss: temp={temp} and tau={tau} must be positive")
        if gamma < 0:
            raise ValueError(f"DFMSDLoss: gamma={gamma} must be >= 0")
        self.temp, self.tau = temp, tau
        self.ratio_spatial, self.ratio_channel = ratio_spatial, ratio_channel
        self.dual, self.mask_select, self.mask_type, self.fusion = dual, mask_select, mask_type, fusion
        self.enhance, self.enhance_mode, self.enhance_channel = enhance, enhance_mode, enhance_channel
        self.gamma, self.ratio_step = gamma, ratio_step
        self.sem_align, self.align_position = sem_align, align_position
        self.alpha, self.beta = alpha, beta
        self.loss_region = loss_region
        if rec_reduction == "auto":
            rec_reduction = "sum" if sem_align == "none" else "mean"
        self.rec_reduction = rec_reduction

        self.align = (
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
            if student_channels != teacher_channels
            else None
        )
        if dual in ("both", "spatial"):
            self.generation_spatial = generation_block(teacher_channels)
        if dual in ("both", "channel"):
            self.generation_channel = generation_block(teacher_channels)
        if dual == "both" and fusion == "softmax":
            self.fuse_logits = nn.Parameter(torch.zeros(2))
        if dual == "both" and fusion == "free":
            self.fuse_weights = nn.Parameter(torch.full((2,), 0.5))
        if sem_align == "adapter":
            self.sem_adapter = semantic_adapter(teacher_channels)
        self.last_masks: dict[str, Tensor] = {}

    def fusion_weights(self) -> Tensor | None:
        """``(w_S, w_C)`` of the fused reconstruction (D5), or ``None`` with a single branch."""
        if self.dual != "both":
            return None
        if self.fusion == "softmax":
            return F.softmax(self.fuse_logits, dim=0)
        if self.fusion == "free":
            return self.fuse_weights
        return torch.full((2,), 0.5, device=self.generation_spatial[0].weight.device)

    def forward(
        self,
        preds_S: Tensor,
        preds_T: Tensor,
        gt_bboxes: list[Tensor] | None = None,
        img_metas: list[dict] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        if preds_S.dim() != 4 or preds_S.shape[0] != preds_T.shape[0] or preds_S.shape[-2:] != preds_T.shape[-2:]:
            raise ValueError(
                f"DFMSDLoss: student {tuple(preds_S.shape)} and teacher {tuple(preds_T.shape)} must be (N, C, H, W) "
                "with the same N, H, W"
            )
        student = self.align(preds_S) if self.align is not None else preds_S
        teacher = preds_T.detach()
        terms: dict[str, Tensor] = {}
        before = self.align_position == "before"
        if self.sem_align == "pkd":
            loss, s_norm, t_norm = pkd_align_loss(student, teacher)
            terms["align"] = self.beta * loss
            if before:
                student, teacher = s_norm, t_norm
        elif self.sem_align == "adapter":
            adapted = self.sem_adapter(student)
            terms["align"] = self.beta * F.mse_loss(adapted, teacher)
            if before:
                student = adapted
        elif self.sem_align == "cwd":
            terms["align"] = self.beta * cwd_loss(student, teacher, self.tau)

        masks = self._masks(teacher, gt_bboxes, img_metas, generator)
        branches = []
        if "spatial" in masks:
            branches.append(self.generation_spatial(student * masks["spatial"].to(student.dtype)))
        if "channel" in masks:
            branches.append(self.generation_channel(student * masks["channel"].to(student.dtype)))
        weights = self.fusion_weights()
        if weights is None:
            recon = branches[0]
        else:
            weights = weights.to(device=student.device, dtype=student.dtype)
            recon = weights[0] * branches[0] + weights[1] * branches[1]
        terms["rec"] = self.alpha * self._reconstruction_loss(recon, teacher, masks)
        self.last_masks = masks
        return terms

    def _masks(
        self,
        teacher: Tensor,
        gt_bboxes: list[Tensor] | None,
        img_metas: list[dict] | None,
        generator: torch.Generator | None,
    ) -> dict[str, Tensor]:
        """Attention (once per level), enhancement and the branch keep masks; all detached."""
        n, c, h, w = teacher.shape
        att_s, att_c = attention_maps(teacher, self.temp)
        out: dict[str, Tensor] = {}
        ratio_s, ratio_c = self.ratio_spatial, self.ratio_channel
        if self.enhance and self.gamma > 0:  # gamma = 0 (e.g. the first stage) leaves everything as it is
            if gt_bboxes is None or img_metas is None:
                raise ValueError("DFMSDLoss: enhance=True with gamma > 0 needs gt_bboxes and img_metas")
            if self.enhance_mode == "attention":
                fg = foreground_binary(gt_bboxes, img_metas, h, w, device=teacher.device)
                att_s = object_spatial_attention(att_s, fg.to(att_s.dtype), self.gamma)
                if self.enhance_channel:
                    att_c = object_channel_attention(teacher, fg, self.gamma, self.temp)
                out["foreground"] = fg
            elif self.enhance_mode == "ratio":
                ratio_s = staged_ratio(ratio_s, self.gamma, self.ratio_step)
                ratio_c = staged_ratio(ratio_c, self.gamma, self.ratio_step)
            else:
                fg_w = foreground_weights(gt_bboxes, img_metas, h, w, dtype=torch.float32, device=teacher.device)
                out["loss_weight"] = object_loss_weight(fg_w, self.gamma)
        options = {"select": self.mask_select, "mask_type": self.mask_type, "generator": generator}
        if self.dual in ("both", "spatial"):
            out["spatial"] = spatial_keep_mask(att_s, ratio_s, **options)
        if self.dual in ("both", "channel"):
            out["channel"] = channel_keep_mask(att_c, ratio_c, **options)
        out["attention_spatial"] = att_s
        out["attention_channel"] = att_c
        return {k: v.detach() for k, v in out.items()}

    def _reconstruction_loss(self, recon: Tensor, teacher: Tensor, masks: dict[str, Tensor]) -> Tensor:
        """``sum((R - F_T)^2 * W) / N`` or its mean, over the full map or the masked region (D6, E-c)."""
        err = (recon - teacher) ** 2
        if "loss_weight" in masks:
            err = err * masks["loss_weight"].to(err.dtype)
        if self.loss_region == "full":
            return err.sum() / err.shape[0] if self.rec_reduction == "sum" else err.mean()
        kept = torch.ones((), device=err.device)
        for key in ("spatial", "channel"):
            if key in masks:
                kept = kept * masks[key]
        region = (1.0 - kept).to(err.dtype)
        total = (err * region).sum()
        if self.rec_reduction == "sum":
            return total / err.shape[0]
        return total / region.expand_as(err).sum().clamp(min=1.0)
