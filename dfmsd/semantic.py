"""DFMSD's semantic alignment at each FPN level (reference note §5.4).

Paper's words (abstract): "semantic alignment is performed at each FPN layer between the teacher and the
student networks for generating consistent feature distributions". The forms are our reading:

* A-a (``sem_align='pkd'``, default): PKD's per-channel standardisation of both features
  (:func:`baselines.pkd.channel_standardize`) and ``mse(norm(F_S), norm(F_T)) / 2``;
* A-b (``'adapter'``): a learnable 1x1 conv + BatchNorm on the student (:func:`semantic_adapter`) and
  ``mse(adapter(F_S), F_T)``;
* A-c (``'cwd'``): channel-wise distillation (Shu et al., ICCV 2021): per channel a softmax over positions
  at temperature ``tau`` and ``tau^2 * KL(T || S)`` summed over positions and channels, divided by ``N * C``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from baselines.pkd import channel_standardize

SEM_ALIGNS = ("pkd", "adapter", "cwd", "none")


def pkd_align_loss(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A-a: ``(loss, norm(F_S), norm(F_T))`` with ``loss = mse(norm(F_S), norm(F_T)) / 2`` (PKD)."""
    s_norm, t_norm = channel_standardize(student), channel_standardize(teacher)
    return F.mse_loss(s_norm, t_norm) / 2, s_norm, t_norm


def semantic_adapter(channels: int) -> nn.Sequential:
    """A-b: ``Conv1x1(C, C) -> BatchNorm2d(C)`` applied to the (aligned) student feature."""
    return nn.Sequential(nn.Conv2d(channels, channels, kernel_size=1), nn.BatchNorm2d(channels))


def cwd_loss(student: Tensor, teacher: Tensor, tau: float) -> Tensor:
    """A-c: CWD, ``tau^2 * sum KL(softmax_hw(F_T/tau) || softmax_hw(F_S/tau)) / (N * C)``."""
    n, c, h, w = teacher.shape
    log_t = F.log_softmax(teacher.reshape(n * c, h * w) / tau, dim=1)
    log_s = F.log_softmax(student.reshape(n * c, h * w) / tau, dim=1)
    return (log_t.exp() * (log_t - log_s)).sum() * tau**2 / (n * c)
