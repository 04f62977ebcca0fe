"""Shared test settings: one torch thread (deterministic CPU numerics, fair to a shared 2-core machine),
W&B offline and quiet, a non-interactive matplotlib backend; the harness fixtures (smoke sweep, fake trainer)
that tests/launch shares."""

import os
import sys
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

torch.set_num_threads(1)

FAKE_TRAINER = (sys.executable, str(Path(__file__).with_name("launch") / "fake_trainer.py"))
SMOKE = Path(__file__).parents[1] / "sweeps" / "smoke.yaml"


@pytest.fixture
def smoke_dict():
    """The shipped smoke sweep as a dict (each test gets its own copy)."""
    return yaml.safe_load(SMOKE.read_text())


@pytest.fixture
def fake_trainer(monkeypatch):
    """The fake trainer's command (tests/launch/fake_trainer.py), with fast steps and no injected failures."""
    monkeypatch.setenv("FAKE_STEP_S", "0.01")
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    monkeypatch.delenv("FAKE_CRASH", raising=False)
    return FAKE_TRAINER
