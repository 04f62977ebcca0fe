"""DFMSD: Dual Feature Masking Stage-wise Knowledge Distillation (Zhang, Li, Wu, Shen, Xu, 2024,
arXiv 2407.13147), reconstructed from its abstract; see ``dfmsd/loss.py`` for what is the paper's and
what is our reading. ``METHOD_PRESETS`` names ``dfmsd`` and ``dmkd`` for run configs.

Defaults follow the reference note §6.5 (starting points; the papers' values were not available):
``one_stage`` students (RetinaNet/RepPoints/FCOS/GFL, P3-P7) mask 65 %, ``two_stage`` students
(Faster/Mask R-CNN, P2-P5) 45 % (MGD's ratios); T = 0.5; beta = 6 on PKD-normalised features. DFMSD's
reconstruction runs on normalised targets (mean reduction, alpha = 3); DMKD's on raw targets with MGD's
reduction and weights (alpha = 2e-5 / 5e-7). Stage-wise schedules (gamma 0 -> 1, teacher curriculum) are
written as ``distill.stages`` in the run config; see the ``S-a``/``S-b`` rows in ``dfmsd/loss.py``.
"""

from dfmsd.loss import DFMSDLoss

__all__ = ["DFMSDLoss", "METHOD_PRESETS"]

_SHARED = {"temp": 0.5, "dual": "both", "mask_select": "top", "mask_type": "hard", "fusion": "softmax"}
_RATIOS = {
    "one_stage": {"ratio_spatial": 0.65, "ratio_channel": 0.65},
    "two_stage": {"ratio_spatial": 0.45, "ratio_channel": 0.45},
}
_DMKD_ALPHA = {"one_stage": 2e-5, "two_stage": 5e-7}

METHOD_PRESETS: dict = {
    "dfmsd": {
        "criterion": DFMSDLoss,
        "defaults": {
            **_SHARED,
            "enhance": True,
            "enhance_mode": "attention",
            "gamma": 1.0,
            "sem_align": "pkd",
            "align_position": "before",
            "alpha": 3.0,
            "beta": 6.0,
        },
        "presets": {kind: dict(ratios) for kind, ratios in _RATIOS.items()},
        "description": "DFMSD (our reading): teacher-attention dual (spatial+channel) masked generation, GT-box "
        "masking enhancement scheduled by stage (gamma), PKD semantic alignment per FPN level",
    },
    "dmkd": {
        "criterion": DFMSDLoss,
        "defaults": {**_SHARED, "enhance": False, "sem_align": "none"},
        "presets": {kind: {**ratios, "alpha": _DMKD_ALPHA[kind]} for kind, ratios in _RATIOS.items()},
        "description": "DMKD (our reading): teacher-attention dual masked generation fused by softmax weights, "
        "one stage, no enhancement, no alignment, MGD weights",
    },
}
