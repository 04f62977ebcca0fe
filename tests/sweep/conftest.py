"""Sweep-plan tests: the smoke sweep as a dict, the harness's fake trainer, a throw-away data cache."""

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
FAKE_TRAINER = (sys.executable, str(ROOT / "tests" / "harness" / "fake_trainer.py"))


@pytest.fixture
def smoke_dict():
    return yaml.safe_load((ROOT / "sweeps" / "smoke.yaml").read_text())


@pytest.fixture(autouse=True)
def _user_cache(tmp_path_factory, monkeypatch):
    """Synthetic data (and anything else the trainer caches) in a throw-away folder, not the user's."""
    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "user-cache"))


@pytest.fixture
def fake_trainer(monkeypatch):
    monkeypatch.setenv("FAKE_STEP_S", "0.01")
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    monkeypatch.delenv("FAKE_CRASH", raising=False)
    return FAKE_TRAINER
