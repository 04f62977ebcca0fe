"""Sweep-plan tests (smoke_dict and fake_trainer come from tests/conftest.py): a throw-away data cache."""

import pytest


@pytest.fixture(autouse=True)
def _user_cache(tmp_path_factory, monkeypatch):
    """Synthetic data (and anything else the trainer caches) in a throw-away folder, not the user's."""
    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "user-cache"))
