"""Mixed precision and the other GPU-efficiency switches of a run (``train.amp``, ``train.channels_last``,
``train.cudnn_benchmark``).

``train.amp``: ``off`` (float32 everywhere), ``bf16`` or ``fp16``: the student's training forward and the
teacher's feature forward run under ``torch.autocast`` with that dtype (the teacher-feature cache is built under
the same autocast and keyed by it, so a cache stays equal to the live teacher); the backward follows the forward's
dtypes. ``fp16`` scales the loss with a ``GradScaler`` (its state is in every checkpoint, so a run resumes
exactly); ``bf16`` has float32's range and needs none. The distillation losses are computed in float32 whatever
the mode: :class:`benchmark.distill.loss.DistillLoss` (the wrapper every method runs in) turns autocast off and
casts both feature maps to float32 before any criterion runs, because the criteria take softmaxes over H x W
(FGD's and DFMSD's attention, CWD), KL divergences, per-channel normalisations (PKD) and sums over large maps,
which lose the precision they need in 8 (bf16) or 10 (fp16) mantissa bits. The detection losses are the
detectors' own under autocast (torch runs its loss functions in float32 there). The optimiser's weights stay
float32 (autocast casts per op; no weight copy).

``train.channels_last``: the student, teacher and criteria weights in channels-last memory format (faster
convolutions on tensor cores); ``train.cudnn_benchmark``: ``torch.backends.cudnn.benchmark`` (cuDNN times its
algorithms per input shape: worth it for fixed shapes, often not for COCO's many shapes). Both change which kernels
run, not what they compute; they are part of the run id all the same (GPU kernels differ in rounding).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

AMP_DTYPES: dict[str, torch.dtype | None] = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@contextlib.contextmanager
def autocast(mode: str, device: torch.device | str) -> Iterator[None]:
    """``torch.autocast`` for ``train.amp`` = ``mode`` on ``device`` (nothing for ``off``)."""
    dtype = AMP_DTYPES[mode]
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, dtype=dtype):
        yield


def grad_scaler(mode: str, device: torch.device | str) -> torch.amp.GradScaler:
    """A loss scaler, enabled for ``fp16`` only (disabled, it passes the loss and the optimiser step through)."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=mode == "fp16")
