"""Run record: atomic writes, tolerant readers, status life cycle, secret scrubbing."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from benchmark.atomic import atomic_write_text
from benchmark.config import ModelConfig, RunConfig
from benchmark.run.metrics import RunMetrics
from benchmark.run.record import RunRecord, one_line, scrub, secret_values
from benchmark.run.resolve import run_id

SECRET = "s3cr3t-value-0123456789abcdef"


def test_readers_tolerate_missing_files(tmp_path):
    rec = RunRecord(tmp_path / "nothing")
    assert rec.read_status() is None
    assert rec.read_metrics() is None
    assert rec.read_env() is None
    assert rec.read_config() is None
    assert rec.read_log() == ""
    assert rec.state is None and not rec.is_done()
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        rec.load_config()


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a" / "f.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_config_round_trip(tmp_path):
    cfg = RunConfig(name="x", seed=3, model=ModelConfig(options={"fpn_channels": 8}))
    rec = RunRecord(tmp_path)
    rec.write_config(cfg)
    raw = yaml.safe_load(rec.config_path.read_text())
    assert raw["run_id"] == run_id(cfg)
    back = rec.load_config()
    assert back == cfg and run_id(back) == run_id(cfg)


def test_status_life_cycle(tmp_path):
    rec = RunRecord(tmp_path)
    rec.mark_queued()
    assert rec.state == "queued"
    s = rec.mark_running(total_iterations=10)
    assert s["attempt"] == 1 and s["pid"] == os.getpid() and s["host"]
    rec.update_status(iteration=5, eta_s=1.5)
    rec.mark_failed("boom\n  at line 3")
    s = rec.read_status()
    assert s["state"] == "failed" and s["reason"] == "boom at line 3" and s["iteration"] == 5 and s["finished"]
    s = rec.mark_running(total_iterations=10)
    assert s["attempt"] == 2 and s["reason"] is None and s["finished"] is None
    rec.mark_done()
    assert rec.is_done()
    with pytest.raises(ValueError, match="state"):
        rec.update_status("finished")


def test_corrupt_json_names_the_file(tmp_path):
    rec = RunRecord(tmp_path)
    rec.status_path.write_text("{")
    with pytest.raises(ValueError, match="status.json"):
        rec.read_status()


def test_secrets_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    monkeypatch.setenv("MY_TOKEN", SECRET[::-1])
    monkeypatch.setenv("SOME_FLAG_KEY", "1")  # too short to be a secret: left alone
    assert SECRET in secret_values() and "1" not in secret_values()
    cfg = RunConfig(name=f"leak-{SECRET}", model=ModelConfig(options={"note": SECRET[::-1]}))
    rec = RunRecord(tmp_path)
    rec.write_config(cfg)
    rec.mark_running(total_iterations=1)
    rec.mark_failed(f"error with {SECRET}")
    rec.write_metrics(RunMetrics(run_id="r", role="student", method=SECRET, curves={"train": [{SECRET[::-1]: 1}]}))
    rec.write_env({"argv": ["--key", SECRET]})
    rec.log(f"line one {SECRET}\nline two {SECRET[::-1]}")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert SECRET not in text and SECRET[::-1] not in text, path
    assert json.loads(rec.metrics_path.read_text())["run_id"] == "r"
    assert "<redacted>" in rec.read_log()


def test_scrub_leaves_non_strings():
    assert scrub({"a": 1, "b": [1.5, None, True]}, ["secret"]) == {"a": 1, "b": [1.5, None, True]}
    assert scrub("x-secret-y", ["secret"]) == "x-<redacted>-y"


def test_one_line():
    assert one_line("a\n b\t c") == "a b c"
    assert len(one_line("x" * 1000)) == 400
