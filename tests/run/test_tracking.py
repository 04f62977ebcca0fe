"""W&B mirror: mode resolution, offline run files under the run dir, failures never propagate."""

from __future__ import annotations

import pytest

from benchmark.config import RunConfig, TrackingConfig
from benchmark.run.resolve import run_id
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
    assert tracker.run.id == run_id(cfg)
    tracker.log({"train/loss": 1.0}, iteration=1)
    tracker.log({"eval/mAP": 0.1}, iteration=2)
    tracker.summary({"final/mAP": 0.1})
    tracker.finish()
    assert not tracker.active
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs and runs[0].name.endswith(run_id(cfg))


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


SECRETS = {
    "SLURM_JOB_TOKEN": "slurm-job-token-value-1234",  # W&B's metadata records SLURM_* variables
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value-5678",
    "HF_TOKEN": "hf-token-value-9012",
    "DB_PASSWORD": "db-password-value-3456",
    "GCP_CREDENTIALS": "gcp-credential-value-7890",
    "MY_PASS": "my-pass-value-1357",
}


def test_wandb_files_hold_no_secret(tmp_path, monkeypatch):
    """Every file W&B writes for an offline run, binary .wandb log included, holds none of the values."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    cfg = RunConfig(name=f"leak-{SECRETS['HF_TOKEN']}", tracking=TrackingConfig(tags=(SECRETS["DB_PASSWORD"],)))
    tracker = Tracker(cfg, tmp_path, role="student")
    tracker.start()
    assert tracker.active
    tracker.log({"train/loss": 1.0}, iteration=1)
    tracker.summary({"final/mAP": 0.1})
    tracker.finish()
    files = [p for p in (tmp_path / "wandb").rglob("*") if p.is_file()]
    assert any(p.suffix == ".wandb" for p in files)
    for path in files:
        data = path.read_bytes()
        leaked = [name for name, value in SECRETS.items() if value.encode() in data]
        assert not leaked, (path, leaked)
    assert all(__import__("os").environ[k] == v for k, v in SECRETS.items())  # restored for the rest of the run


def test_online_without_network_falls_back_to_offline_fast(tmp_path, monkeypatch):
    """With a key but no route to the W&B host, the run logs offline within REACH_TIMEOUT_S and says so once."""
    import socket
    import time

    from benchmark.run.tracking import REACH_TIMEOUT_S, reachable

    with socket.socket() as sock:  # a local port nobody listens on: a refused connection
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    warnings: list[str] = []
    tracker = Tracker(RunConfig(name="net"), tmp_path, role="student", warn=warnings.append)
    assert tracker.mode == "online"
    t0 = time.perf_counter()
    tracker.start()
    tracker.log({"train/loss": 1.0}, iteration=1)
    tracker.finish()
    elapsed = time.perf_counter() - t0
    assert len(warnings) == 1 and "logging offline" in warnings[0], warnings
    assert list((tmp_path / "wandb").glob("offline-run-*"))
    assert elapsed < REACH_TIMEOUT_S + 15, elapsed  # offline start/finish of W&B itself takes a few seconds
    t0 = time.perf_counter()
    assert not reachable("http://10.255.255.1:9", timeout=1.0)  # unroutable: bounded by the timeout
    assert time.perf_counter() - t0 < 2.0
