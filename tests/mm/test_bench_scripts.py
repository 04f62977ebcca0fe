"""The throughput benchmarks against mmdet run end to end (no speed is asserted here: ratios are measured by
``dfmsd-bench bench --only data`` and ``scripts/bench_gpu_step.py``, docs/speed.md): the CPU data-pipeline section
hands over the same kind of batches from both loaders; the GPU step script, on the CPU with tiny models, writes a
rate file that plan reads."""

from __future__ import annotations

import pytest

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from benchmark.bench.data import bench_data, format_data  # noqa: E402
from benchmark.bench.scripts import load_script  # noqa: E402
from benchmark.launch.gpu_rate import load_gpu_rate  # noqa: E402


def test_data_section_compares_like_with_like():
    result = bench_data(quick=True, workers=(0, 1), images=8)
    assert result["same_output"] == "uint8 (3, 800, 1067) images and boxes from both"
    assert set(result["workers"]) == {"0", "1"}
    for row in result["workers"].values():
        assert row["ours"]["median"] > 0 and row["mmdet"]["median"] > 0 and row["ratio"]["n"] == 2
    lines = format_data(result)
    assert "mmdet 3.3 img/s" in lines[1] and len(lines) == 4


def test_gpu_step_script_writes_a_rate_file_plan_reads(tmp_path):
    script = load_script("bench_gpu_step")
    out = tmp_path / "rate.json"
    argv = ["--device", "cpu", "--tiny", "--amp", "off", "--methods", "mimic", "--warmup", "0", "--rounds", "1"]
    assert script.main([*argv, "--out", str(out)]) == 0
    rate = load_gpu_rate(out)
    assert set(rate.tflops) == {("mimic", "off"), ("none", "off")}
    assert rate.for_run("fgd", "off")[1] == "none/off"
