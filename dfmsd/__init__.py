"""DFMSD: Dual Feature Masking Stage-wise Knowledge Distillation (Zhang, Li, Wu, Shen, Xu, 2024,
arXiv 2407.13147), reconstructed from its abstract; see ``dfmsd/loss.py`` for what is the paper's and
what is our reading.

DFMSD = published parts + its own. Published, imported from ``baselines/``: FGD's teacher attention and
scale-aware box masks (:mod:`baselines.fgd`, :mod:`baselines.fgd_masks`), MGD's generator and random mask
(:mod:`baselines.mgd`), PKD's per-channel standardisation (:mod:`baselines.pkd`). Its own (our reading of the
abstract): attention-ranked dual masks (:mod:`dfmsd.selection`), object-aware masking enhancement
(:mod:`dfmsd.enhancement`), per-level semantic alignment variants (:mod:`dfmsd.semantic`), the fusion of the two
generators and the loss (:mod:`dfmsd.loss`); stage-wise schedules are ``distill.stages`` of a run config.
``DFMSDLoss`` is registered as the methods ``dfmsd`` and ``dmkd`` (DMKD: one stage, no enhancement, no alignment).
"""

from dfmsd.loss import DFMSDLoss

__all__ = ["DFMSDLoss"]
