"""DFMSD: Dual Feature Masking Stage-wise Knowledge Distillation (Zhang, Li, Wu, Shen, Xu, 2024,
arXiv 2407.13147), reconstructed from its abstract; see ``dfmsd/loss.py`` for what is the paper's and
what is our reading. ``METHOD_PRESETS`` names ``dfmsd`` and ``dmkd`` for run configs."""

METHOD_PRESETS: dict = {}
