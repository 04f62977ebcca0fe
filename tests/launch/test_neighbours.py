"""Other trainers on the machine are found from /proc, and ``dfmsd-bench run`` names them before it starts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.commands.run import make_executor
from benchmark.launch.neighbours import is_trainer, other_trainers
from benchmark.launch.plan import load_plan


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/x/.venv/bin/python", "-m", "benchmark.run.train", "--run-dir", "d"], True),
        (["/x/.venv/bin/python", "/x/.venv/bin/dfmsd-bench", "train", "run.yaml"], True),
        (["/x/.venv/bin/python", "/x/.venv/bin/dfmsd-bench", "quickstart"], True),
        (["/x/.venv/bin/python", "/x/.venv/bin/dfmsd-bench", "run", "sweep.yaml"], False),
        (["/x/.venv/bin/python", "-m", "benchmark.launch.worker", "--run-dir", "d"], False),
        (["python", "-m", "benchmark.launch.worker", "--", "python", "-m", "benchmark.run.train"], False),
        (["vim", "train"], False),
        ([""], False),
    ],
)
def test_is_trainer(argv: list[str], expected: bool) -> None:
    assert is_trainer(argv) is expected


def test_other_trainers_reads_proc_and_leaves_out_itself(tmp_path: Path) -> None:
    for pid, argv in {
        "12": ["python", "-m", "benchmark.run.train"],
        "7": ["python", "dfmsd-bench", "train", "a.yaml"],
        "30": ["bash"],
        "99": ["python", "-m", "benchmark.run.train"],
    }.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")
    (tmp_path / "41").mkdir()  # ended while we looked: no cmdline
    (tmp_path / "self").mkdir()
    assert other_trainers(tmp_path, own=99) == [7, 12]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_run_names_a_trainer_already_running(request, tmp_path: Path, capsys) -> None:
    plan = load_plan(request.config.rootpath / "sweeps" / "smoke.yaml", [])
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "benchmark.run.train"])
    try:
        deadline = time.monotonic() + 10
        while trainer.pid not in other_trainers() and time.monotonic() < deadline:
            time.sleep(0.05)
        make_executor("local", plan, tmp_path, 1)
    finally:
        trainer.kill()
        trainer.wait()
    err = capsys.readouterr().err
    assert "other dfmsd-bench training process(es) on this machine" in err
    assert str(trainer.pid) in err
