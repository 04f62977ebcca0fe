"""FKD: Improve Object Detection with Feature-based Knowledge Distillation (Zhang & Ma, ICLR 2021), in the
form of mmrazor's FBKD (``FBKDStudentConnector`` + ``FBKDTeacherConnector`` + ``FBKDLoss`` @ 90c7af1), the
usable reference implementation (the authors' repository holds no code).

One FPN level, four weighted terms (mmrazor's reading of the paper's Eq. 4-9):

* ``feat``     ``mask_l2_weight * sqrt(sum(M * (F_T - adapt(F_S))^2))`` with the detached spatial mask
  ``M = (A_S(F_T) + A_S(F_S)) / 2`` (attention-guided feature loss, Eq. 5; spatial attention Eq. 1-2);
* ``channel``  ``channel_weight * ||mean_hw F_T - Linear(mean_hw F_S)||_2``;
* ``spatial``  ``spatial_weight * ||mean_c F_T - Conv3x3(mean_c F_S)||_2``
  (these two stand in for the paper's attention loss, Eq. 6, as in mmrazor);
* ``nonlocal`` ``nonlocal_weight * ||NL_T(F_T) - Conv1x1(NL_S(F_S))||_2`` (non-local relation loss, Eq. 8).

All four are unnormalised batch totals (no division by N). The channel mask of mmrazor is computed there but
never used (as in the original code), so ``channel_T`` has no effect; it is kept for config compatibility.
mmrazor's ``nonloacl_weight`` is spelled ``nonlocal_weight`` here; :meth:`FKDLoss.load_mmrazor_state_dict`
takes mmrazor connector state dicts.

Ours beyond mmrazor: when the channel counts differ (mmrazor cannot: its adaptation layers are C->C), a
learnable 1x1 ``align`` conv (with bias, PyTorch default init) first maps the student to the teacher's
channels and every other part is built with the teacher's channels. The teacher feature is detached; the
teacher-side non-local block is trainable (it belongs to the distiller, as in mmrazor). Known differences
from the original FKD code (unverified third-party copies): double key/value pooling, bias-free
``conv_out`` and four instead of five FPN levels in mmrazor's config; see docs of :class:`NonLocal2d`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.align import aligned_pair
from baselines.fgd import attention_maps
from benchmark.distill.methods import register_method


class NonLocal2d(nn.Module):
    """mmcv's ``NonLocal2d`` in ``dot_product`` mode as wrapped by mmrazor's ``NonLocal2dMaxpoolNstride``.

    ``out = x + BN(conv_out(P @ g(x)))`` with ``P = theta(x)^T phi(x) / HW'``. Init as mmcv: g, theta, phi
    ~ N(0, 0.01) with zero bias, ``conv_out`` (no bias) He-normal fan_out, BN weight and bias zero
    (``zeros_init``), so the block starts as the identity. With ``sub_sample`` mmcv already max-pools ``g``
    and ``phi`` by 2 and mmrazor pools them again by ``maxpool_stride``; the two pools equal one max-pool of
    kernel and stride ``2 * maxpool_stride``, which is what we apply (the original FKD code pools once).
    Ours: on a level smaller than the kernel (where mmrazor raises) the kernel shrinks to the level's size in
    that dimension, so the coarsest FPN levels keep one key row/column.
    """

    def __init__(self, in_channels: int, *, reduction: int = 2, sub_sample: bool = False, maxpool_stride: int = 2):
        super().__init__()
        self.inter_channels = max(in_channels // reduction, 1)
        self.sub_sample = sub_sample
        self.g = nn.Conv2d(in_channels, self.inter_channels, kernel_size=1)
        self.theta = nn.Conv2d(in_channels, self.inter_channels, kernel_size=1)
        self.phi = nn.Conv2d(in_channels, self.inter_channels, kernel_size=1)
        self.conv_out = nn.Conv2d(self.inter_channels, in_channels, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(in_channels)
        self.pool_kernel = 2 * maxpool_stride if sub_sample else 1
        for conv in (self.g, self.theta, self.phi):
            nn.init.normal_(conv.weight, 0.0, 0.01)
            nn.init.zeros_(conv.bias)
        nn.init.kaiming_normal_(self.conv_out.weight, a=0, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def pool(self, x: Tensor) -> Tensor:
        """Max-pool keys/values by ``2 * maxpool_stride`` (floor), the kernel clipped to the map size."""
        if self.pool_kernel == 1:
            return x
        kernel = (min(self.pool_kernel, x.shape[-2]), min(self.pool_kernel, x.shape[-1]))
        return F.max_pool2d(x, kernel)

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        g_x = self.pool(self.g(x)).view(n, self.inter_channels, -1).permute(0, 2, 1)
        theta_x = self.theta(x).view(n, self.inter_channels, -1).permute(0, 2, 1)
        phi_x = self.pool(self.phi(x)).view(n, self.inter_channels, -1)
        pairwise = torch.matmul(theta_x, phi_x)
        pairwise = pairwise / pairwise.shape[-1]
        y = torch.matmul(pairwise, g_x).permute(0, 2, 1).contiguous().reshape(n, self.inter_channels, h, w)
        return x + self.bn(self.conv_out(y))


# mmrazor/mmcv key -> our key, applied to every key of a connector state dict (in this order).
_MMRAZOR_KEY_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.(g|theta|phi)\.(?:0\.0\.)?conv\."), r".\1."),
    (re.compile(r"\.conv_out\.conv\."), ".conv_out."),
    (re.compile(r"\.conv_out\.bn\."), ".bn."),
)
_SUBSAMPLED_KEY = re.compile(r"_non_local\.(g|phi)\.0\.0\.conv\.")


def mmrazor_key(key: str) -> str:
    """Our :class:`FKDLoss` state-dict key for a key of an mmrazor FBKD connector's state dict
    (``student_non_local.g.0.0.conv.weight`` -> ``student_non_local.g.weight``, ``conv_out.bn.*`` -> ``bn.*``)."""
    for pattern, repl in _MMRAZOR_KEY_RULES:
        key = pattern.sub(repl, key)
    return key


# mmrazor fbkd_fpn_faster-rcnn_r101_faster-rcnn_r50 (the only official config, two-stage student): sub_sample=True
# with reduction 4 / maxpool_stride 8, 4 on P2, P3 and reduction 2 / stride 2 on P4, P5. Options are level-uniform
# here; reduction 4 / stride 4 (keys pooled 8x) is mmrazor's P3 setting and keeps the P2 relation matrix
# affordable. Loss weights are FBKDLoss's defaults (the constructor's).
@register_method(
    "fkd",
    display="FKD",
    weights=("mask_l2_weight", "channel_weight", "spatial_weight", "nonlocal_weight"),
    description="FKD/FBKD (ICLR 2021, mmrazor form): attention-masked feature, channel/spatial pool and non-local "
    "relation losses",
    defaults={"sub_sample": True, "reduction": 4, "maxpool_stride": 4},
)
class FKDLoss(nn.Module):
    """Per-level FKD (mmrazor FBKD) criterion; terms ``feat``, ``channel``, ``spatial``, ``nonlocal``.

    Student side: ``channel_wise_adaptation`` (Linear C->C), ``spatial_wise_adaptation`` (Conv3x3 1->1),
    ``adaptation_layers`` (Conv1x1), ``student_non_local``, ``non_local_adaptation`` (Conv1x1); teacher side:
    ``teacher_non_local``; plus ``align`` (ours) when the channel counts differ, else ``None``.
    """

    def __init__(
        self,
        student_channels: int,
        teacher_channels: int,
        *,
        reduction: int = 2,
        sub_sample: bool = False,
        maxpool_stride: int = 2,
        spatial_T: float = 0.5,
        channel_T: float = 0.5,
        mask_l2_weight: float = 7e-5,
        channel_weight: float = 4e-3,
        spatial_weight: float = 4e-3,
        nonlocal_weight: float = 7e-5,
    ) -> None:
        super().__init__()
        c = teacher_channels
        self.reduction = reduction
        self.sub_sample = sub_sample
        self.maxpool_stride = maxpool_stride
        self.spatial_T = spatial_T
        self.channel_T = channel_T
        self.mask_l2_weight = mask_l2_weight
        self.channel_weight = channel_weight
        self.spatial_weight = spatial_weight
        self.nonlocal_weight = nonlocal_weight
        self.align = nn.Conv2d(student_channels, c, kernel_size=1) if student_channels != c else None
        self.channel_wise_adaptation = nn.Linear(c, c)
        self.spatial_wise_adaptation = nn.Conv2d(1, 1, kernel_size=3, stride=1, padding=1)
        self.adaptation_layers = nn.Conv2d(c, c, kernel_size=1)
        nl = dict(reduction=reduction, sub_sample=sub_sample, maxpool_stride=maxpool_stride)
        self.student_non_local = NonLocal2d(c, **nl)
        self.non_local_adaptation = nn.Conv2d(c, c, kernel_size=1)
        self.teacher_non_local = NonLocal2d(c, **nl)

    def forward(
        self,
        preds_S: Tensor,
        preds_T: Tensor,
        gt_bboxes: list[Tensor] | None = None,
        img_metas: list[dict] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        s, t = aligned_pair("FKD", self.align, preds_S, preds_T)
        n, _, h, w = s.shape
        mask = ((attention_maps(t, self.spatial_T)[0] + attention_maps(s, self.spatial_T)[0]) / 2).detach()
        feat = (torch.sum((t - self.adaptation_layers(s)) ** 2 * mask.unsqueeze(1)) ** 0.5) * self.mask_l2_weight
        channel = torch.dist(t.mean(dim=(2, 3)), self.channel_wise_adaptation(s.mean(dim=(2, 3))))
        spatial_s = self.spatial_wise_adaptation(s.mean(dim=1).view(n, 1, h, w))
        spatial = torch.dist(t.mean(dim=1).view(n, 1, h, w), spatial_s)
        relation = torch.dist(self.teacher_non_local(t), self.non_local_adaptation(self.student_non_local(s)), p=2)
        return {
            "feat": feat,
            "channel": channel * self.channel_weight,
            "spatial": spatial * self.spatial_weight,
            "nonlocal": relation * self.nonlocal_weight,
        }

    def load_mmrazor_state_dict(
        self, student_connector_state: Mapping[str, Tensor], teacher_connector_state: Mapping[str, Tensor]
    ) -> None:
        """Load the state dicts of an mmrazor ``FBKDStudentConnector`` and ``FBKDTeacherConnector`` (their own
        keys, e.g. ``student_non_local.g.0.0.conv.weight``, without the distiller's prefix). All parts but
        ``align`` (which mmrazor does not have) must be present; ``align`` keeps its current weights."""
        mapped: dict[str, Tensor] = {}
        for side, state in (("student", student_connector_state), ("teacher", teacher_connector_state)):
            subsampled = any(_SUBSAMPLED_KEY.search(key) for key in state)
            if subsampled != self.sub_sample:
                raise ValueError(
                    f"FKD: the {side} connector state was saved with sub_sample={subsampled} "
                    f"(keys '*_non_local.g.0.0.conv.*' mean True), but this FKDLoss has sub_sample={self.sub_sample}"
                )
            mapped.update((mmrazor_key(key), value) for key, value in state.items())
        expected = {k for k in self.state_dict() if not k.startswith("align.")}
        missing, unexpected = sorted(expected - mapped.keys()), sorted(mapped.keys() - expected)
        if missing or unexpected:
            raise ValueError(f"FKD: mmrazor connector states do not fit: missing {missing}, unexpected {unexpected}")
        self.load_state_dict(mapped, strict=False)
