"""Reimplemented feature-distillation baselines (FGD, MGD, FKD, PKD, FitNets mimic) on the shared
per-level criterion interface; ``METHOD_PRESETS`` names them for run configs.

Presets hold the official per-detector hyperparameters (see docs in each module and
shared/reference/baselines.md): ``one_stage`` is the RetinaNet-student config, ``two_stage`` the
Faster/Mask R-CNN-student config of the official repositories. Options are level-uniform (the harness
builds one criterion per FPN level from the same options).
"""

from baselines.fgd import FGDLoss
from baselines.fkd import FKDLoss
from baselines.mgd import MGDLoss
from baselines.pkd import PKDLoss

METHOD_PRESETS: dict = {
    "fgd": {
        "criterion": FGDLoss,
        "defaults": {},
        "presets": {
            # yzd-v/FGD configs fgd_retina_* (also GFL, SOLO); the code default gamma_fgd=0.001 is not used there.
            "one_stage": {"temp": 0.5, "alpha_fgd": 0.001, "beta_fgd": 0.0005, "gamma_fgd": 0.0005, "lambda_fgd": 5e-6},
            # fgd_faster_rcnn_*, fgd_mask_rcnn_*, fgd_cascade_mask_rcnn_* configs.
            "two_stage": {
                "temp": 0.5,
                "alpha_fgd": 0.00005,
                "beta_fgd": 0.000025,
                "gamma_fgd": 0.00005,
                "lambda_fgd": 5e-7,
            },
        },
        "description": "FGD (CVPR 2022): focal (box-masked, attention-weighted) + attention + GcBlock global losses",
    },
    "mgd": {
        "criterion": MGDLoss,
        "defaults": {},
        "presets": {
            "one_stage": {"alpha_mgd": 0.00002, "lambda_mgd": 0.65},  # retina_rx101_64x4d_distill_retina_r50
            "two_stage": {"alpha_mgd": 0.0000005, "lambda_mgd": 0.45},  # cascade_mask_rcnn_..._distill_faster_rcnn
        },
        "description": "MGD (ECCV 2022): regenerate the teacher feature from a randomly masked student feature",
    },
    "fkd": {
        "criterion": FKDLoss,
        # mmrazor fbkd_fpn_faster-rcnn_r101_faster-rcnn_r50 (the only official config, two-stage student):
        # sub_sample=True with reduction 4 / maxpool_stride 8, 4 on P2, P3 and reduction 2 / stride 2 on P4, P5.
        # Options are level-uniform here; reduction 4 / stride 4 (keys pooled 8x) is mmrazor's P3 setting and keeps
        # the P2 relation matrix affordable. Loss weights are FBKDLoss's defaults (the constructor's).
        "defaults": {"sub_sample": True, "reduction": 4, "maxpool_stride": 4},
        "presets": {},
        "description": "FKD/FBKD (ICLR 2021, mmrazor form): attention-masked feature, channel/spatial pool "
        "and non-local relation losses",
    },
    "pkd": {
        "criterion": PKDLoss,
        "defaults": {},
        "presets": {
            # mmrazor pkd configs: 10 for RetinaNet/RepPoints/FCOS teachers -> one-stage students,
            # 6 for Faster R-CNN R101 -> R50 (and for the Swin-S Mask R-CNN -> RetinaNet pair).
            "one_stage": {"loss_weight": 10.0},
            "two_stage": {"loss_weight": 6.0},
        },
        "description": "PKD (NeurIPS 2022): MSE of per-channel standardised features (1 - Pearson r)",
    },
}
