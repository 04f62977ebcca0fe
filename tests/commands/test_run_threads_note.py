"""``dfmsd-bench run`` warns when its workers' threads exceed the cores, counting only the runs still to train."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.commands.run import make_executor
from benchmark.launch.plan import load_plan
from benchmark.run.record import RunRecord


@pytest.fixture
def plan(request):
    return load_plan(request.config.rootpath / "sweeps" / "smoke.yaml", ["train.num_threads=2"])


def test_more_threads_than_cores_is_noted(plan, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    make_executor("local", plan, tmp_path, 2)
    assert "2 workers x 2 threads > 2 cores" in capsys.readouterr().err


def test_runs_already_done_do_not_count(plan, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    todo = next(r for r in plan.runs.values() if r.role == "student")
    for node in plan.runs.values():
        if node is not todo:
            RunRecord(node.record_dir(tmp_path / "runs")).update_status("done")
    make_executor("local", plan, tmp_path, 2)
    assert "compete for CPU" not in capsys.readouterr().err
