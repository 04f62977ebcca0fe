"""Harness test helpers: the smoke sweep as a dict and the fake trainer (fake_trainer.py), no torch training."""

import sys
from pathlib import Path

import pytest
import yaml

FAKE_TRAINER = (sys.executable, str(Path(__file__).with_name("fake_trainer.py")))
SMOKE = Path(__file__).parents[2] / "sweeps" / "smoke.yaml"


@pytest.fixture
def smoke_dict():
    return yaml.safe_load(SMOKE.read_text())


@pytest.fixture
def fake_trainer(monkeypatch):
    """The fake trainer's command, with fast steps and no injected failures."""
    monkeypatch.setenv("FAKE_STEP_S", "0.01")
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    monkeypatch.delenv("FAKE_CRASH", raising=False)
    return FAKE_TRAINER
