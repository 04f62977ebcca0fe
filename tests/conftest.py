"""Shared test settings: one torch thread (deterministic CPU numerics, fair to a shared 2-core machine),
W&B offline and quiet, a non-interactive matplotlib backend."""

import os

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
