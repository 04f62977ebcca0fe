"""status/plan/sync commands from the records, and the sweep-level W&B summary (offline, no network)."""

import json

from benchmark.cli import main
from benchmark.launch.executors import LocalExecutor
from benchmark.launch.plan import build_plan
from benchmark.launch.results import collect_rows, format_table, log_wandb_summary
from benchmark.launch.scheduler import execute
from benchmark.launch.spec import sweep_from_dict


def _run_smoke(tmp_path, smoke_dict, fake_trainer):
    plan = build_plan(sweep_from_dict(smoke_dict, "smoke.yaml"))
    execute(plan, tmp_path, LocalExecutor(tmp_path / "runs", workers=2, trainer=fake_trainer, gpus=[]), progress=False)
    return plan


def test_status_table_and_plan_from_records(tmp_path, smoke_dict, fake_trainer, capsys, request):
    plan = _run_smoke(tmp_path, smoke_dict, fake_trainer)
    rows = collect_rows(tmp_path)
    assert [r["run_id"] for r in rows] == plan.order()
    assert all(r["state"] == "done" and r["iteration"] == 4 for r in rows)
    text = format_table(rows)
    assert "BEST mAP" in text and "5 runs: 5 done" in text
    assert main(["status", str(tmp_path)]) == 0
    assert "5 runs: 5 done" in capsys.readouterr().out
    smoke = str(request.config.rootpath / "sweeps" / "smoke.yaml")
    assert main(["plan", smoke, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 runs (1 teacher, 4 student)" in out and "states: 5 done" in out and "#1" in out
    assert main(["status", str(tmp_path / "nothing")]) == 2


def test_wandb_summary_offline_holds_the_results_table(tmp_path, smoke_dict, fake_trainer, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    plan = _run_smoke(tmp_path, smoke_dict, fake_trainer)
    rows = collect_rows(tmp_path)
    tracking = next(iter(plan.runs.values())).config.tracking
    assert log_wandb_summary("smoke", tmp_path, rows, tracking) is None  # smoke turns W&B off
    on = tracking.__class__(wandb=True, mode="auto", project="dfmsd-bench-test")
    folder = log_wandb_summary("smoke", tmp_path, rows, on)
    assert folder is not None and folder.name.startswith("offline-run-")
    (table,) = folder.glob("files/media/table/results_*.table.json")
    data = json.loads(table.read_text())
    assert data["columns"][0] == "run_id" and len(data["data"]) == len(plan.runs)
    assert {row[0] for row in data["data"]} == set(plan.runs)


def test_sync_without_a_key_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert main(["sync", str(tmp_path)]) == 0 and "no offline W&B runs" in capsys.readouterr().out
    (tmp_path / "runs" / "r1" / "wandb" / "offline-run-20260101_000000-r1").mkdir(parents=True)
    assert main(["sync", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no W&B API key" in err and "1 offline runs" in err
