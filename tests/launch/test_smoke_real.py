"""End to end with the real trainer: the smoke sweep through `dfmsd-bench run`, then a relaunch that trains nothing."""

import json

import pytest

from benchmark.cli import main
from benchmark.run.record import RunRecord


@pytest.mark.slow
def test_smoke_sweep_with_the_real_trainer(tmp_path, request, capsys):
    smoke = str(request.config.rootpath / "sweeps" / "smoke.yaml")
    out = tmp_path / "out"
    assert main(["run", smoke, "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "5/5 done (0 already done, 5 started), 0 failed" in text
    for run in (out / "runs").iterdir():
        record = RunRecord(run)
        assert record.is_done()
        metrics = record.read_metrics()
        assert "mAP" in metrics.final and (run / "checkpoints" / "model_final.pt").exists()
    assert main(["run", smoke, "--out", str(out), "--no-progress"]) == 0
    assert "5/5 done (5 already done, 0 started)" in capsys.readouterr().out
    starts = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "start" for e in starts) == 5
