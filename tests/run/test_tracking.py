"""W&B mirror: mode resolution, offline run files under the run dir, failures never propagate."""

from __future__ import annotations

import pytest

from benchmark.config import RunConfig, TrackingConfig
from benchmark.run.tracking import Tracker, prefixed, resolve_mode


def test_resolve_mode():
    auto = TrackingConfig()
    assert resolve_mode(auto, environ={}) == "offline"
    assert resolve_mode(auto, environ={"WANDB_API_KEY": "abc"}) == "online"
    assert resolve_mode(auto, environ={"WANDB_API_KEY": "abc", "WANDB_MODE": "offline"}) == "offline"
    assert resolve_mode(auto, no_wandb=True, environ={"WANDB_API_KEY": "abc"}) == "disabled"
    assert resolve_mode(TrackingConfig(wandb=False), environ={}) == "disabled"
    assert resolve_mode(TrackingConfig(mode="online"), environ={}) == "online"
    with pytest.raises(ValueError, match="tracking.mode"):
        resolve_mode(TrackingConfig(mode="cloud"), environ={})


def test_offline_run_lives_in_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = RunConfig(name="trk", tracking=TrackingConfig(tags=("t1",), group="g"))
    tracker = Tracker(cfg, tmp_path, role="student")
    tracker.start()
    assert tracker.active, "offline W&B should start without network"
    assert tracker.run.id == cfg.run_id()
    tracker.log({"train/loss": 1.0}, iteration=1)
    tracker.log({"eval/mAP": 0.1}, iteration=2)
    tracker.summary({"final/mAP": 0.1})
    tracker.finish()
    assert not tracker.active
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs and runs[0].name.endswith(cfg.run_id())


def test_failures_become_one_warning(tmp_path, monkeypatch):
    import wandb

    def broken(**kwargs):
        raise RuntimeError("no service\nsecond line")

    monkeypatch.setattr(wandb, "init", broken)
    warnings = []
    tracker = Tracker(RunConfig(), tmp_path, role="teacher", warn=warnings.append)
    tracker.start()
    tracker.log({"x": 1}, iteration=1)
    tracker.finish()
    assert not tracker.active
    assert len(warnings) == 1 and "\n" not in warnings[0] and "no service second line" in warnings[0]


def test_disabled_does_nothing(tmp_path):
    tracker = Tracker(RunConfig(tracking=TrackingConfig(wandb=False)), tmp_path, role="student")
    tracker.start()
    tracker.log({"x": 1}, iteration=1)
    tracker.finish()
    assert tracker.mode == "disabled" and not (tmp_path / "wandb").exists()


def test_prefixed():
    assert prefixed("final", {"mAP": 0.1, "name": "x", "ok": True}) == {"final/mAP": 0.1}
