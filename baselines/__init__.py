"""Reimplemented feature-distillation baselines (FGD, MGD, FKD, PKD, FitNets mimic) on the shared
per-level criterion interface, each registered for run configs with ``@register_method`` where it is defined.

Presets hold the official per-detector hyperparameters (sources in each module's docstring): ``one_stage`` is
the RetinaNet-student config, ``two_stage`` the Faster/Mask R-CNN-student config of the official repositories.
Options are level-uniform (the harness builds one criterion per FPN level from the same options).
"""

from baselines.fgd import FGDLoss
from baselines.fkd import FKDLoss
from baselines.mgd import MGDLoss
from baselines.mimic import MimicLoss
from baselines.pkd import PKDLoss

__all__ = ["FGDLoss", "FKDLoss", "MGDLoss", "MimicLoss", "PKDLoss"]
