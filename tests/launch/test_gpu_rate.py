"""Measured GPU rates (scripts/bench_gpu_step.py's file) in plan: GPU-hours per run from the effective TFLOP/s of its
method and amp; without a file the rate is said to be assumed."""

from __future__ import annotations

import json

import pytest

from benchmark.cli import main as cli_main
from benchmark.commands.plan import render_plan
from benchmark.launch.gpu_rate import KIND, VERSION, load_gpu_rate
from benchmark.launch.plan import build_plan, estimate_flops
from benchmark.launch.spec import sweep_from_dict


def rate_file(tmp_path, rows):
    path = tmp_path / "rate.json"
    path.write_text(json.dumps({"kind": KIND, "version": VERSION, "device": "GPU X", "measured": "then", "rows": rows}))
    return path


def test_rates_per_method_and_fallbacks(tmp_path):
    rate = load_gpu_rate(rate_file(tmp_path, [
        {"method": "none", "amp": "off", "tflops": 40.0},
        {"method": "mimic", "amp": "off", "tflops": 30.0},
        {"method": "none", "amp": "bf16", "tflops": 80.0},
    ]))  # fmt: skip
    assert rate.for_run("mimic", "off") == (30.0, "mimic/off")
    assert rate.for_run("fgd", "bf16") == (80.0, "none/bf16")  # unmeasured method: the plain student's rate
    assert rate.for_run("fgd", "fp16") == (40.0, "none/off")
    assert "GPU X" in rate.describe() and "mimic/off 30.0" in rate.describe()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not a readable JSON file"),
        (json.dumps({"kind": "other"}), "not a dfmsd-bench GPU rate file"),
        (json.dumps({"kind": KIND, "version": VERSION, "rows": []}), "no measured rows"),
        (json.dumps({"kind": KIND, "version": VERSION, "rows": [{"method": "none"}]}), "needs method, amp"),
        (json.dumps({"kind": KIND, "version": VERSION, "rows": [{"method": "none", "amp": "off", "tflops": 0}]}),
         "must be > 0"),
    ],
)  # fmt: skip
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_gpu_rate(path)
    with pytest.raises(ValueError, match="no such GPU rate file"):
        load_gpu_rate(tmp_path / "missing.json")


def test_plan_uses_the_measured_rate(smoke_dict, tmp_path, capsys):
    plan = build_plan(sweep_from_dict(smoke_dict, "smoke.yaml"))
    path = rate_file(tmp_path, [{"method": "none", "amp": "off", "tflops": 1e-3}, {"method": "mimic", "amp": "off",
                                                                                   "tflops": 5e-4}])  # fmt: skip
    expected = sum(
        estimate_flops(r.config) / ((5e-4 if r.method == "mimic" else 1e-3) * 1e12) / 3600 for r in plan.runs.values()
    )
    text = render_plan(plan, tmp_path, rate=load_gpu_rate(path))
    assert f"= ~{expected:.1f} GPU-hours at the measured rates of {path} (GPU X, then)" in text
    assert "ASSUMED" not in text
    smoke = tmp_path / "smoke.yaml"
    smoke.write_text(json.dumps(smoke_dict))
    assert cli_main(["plan", str(smoke), "--out", str(tmp_path / "o"), "--gpu-rate", str(path)]) == 0
    assert "at the measured rates of" in capsys.readouterr().out
    assert cli_main(["plan", str(smoke), "--out", str(tmp_path / "o")]) == 0
    assert "at an ASSUMED 100 TFLOP/s" in capsys.readouterr().out
    assert cli_main(["plan", str(smoke), "--gpu-rate", str(tmp_path / "none.json")]) == 2
