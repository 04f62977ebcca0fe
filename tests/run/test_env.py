"""env.json's CPU entry: which CPU a run computed on (speed and rounding differ between CPUs)."""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.run.env import collect_env, cpu_info

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 207
model name\t: Intel(R) Xeon(R) Processor
stepping\t: 2

processor\t: 1
model name\t: Another CPU
"""


def test_cpu_info_reads_the_first_processor(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    info = cpu_info(path)
    assert info["model"] == "Intel(R) Xeon(R) Processor"
    assert (info["family"], info["model_id"], info["stepping"]) == ("6", "207", "2")
    assert info["capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["logical_cpus"] >= 1


def test_cpu_info_without_proc_cpuinfo_is_null_not_an_error(tmp_path: Path) -> None:
    info = cpu_info(tmp_path / "absent")
    assert info["model"] is None and info["stepping"] is None
    assert info["capability"]


def test_env_json_names_the_cpu() -> None:
    env = collect_env(torch.device("cpu"), num_threads=1)
    assert set(env["cpu"]) == {"model", "family", "model_id", "stepping", "logical_cpus", "capability"}
