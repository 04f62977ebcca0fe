"""Reimplemented feature-distillation baselines (FGD, MGD, FKD, PKD, FitNets mimic) on the shared
per-level criterion interface; ``METHOD_PRESETS`` names them for run configs."""

METHOD_PRESETS: dict = {}
