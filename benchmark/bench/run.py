"""``dfmsd-bench bench``: every speed benchmark in one process, a table of ratios and a JSON record."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmark.bench.data import bench_data, format_data
from benchmark.bench.harness import bench_harness
from benchmark.bench.losses import bench_losses
from benchmark.bench.steps import (
    CACHED_TARGET,
    LIVE_TARGET,
    StepSetting,
    bench_method,
    plain_trainer,
    save_random_teacher,
)
from benchmark.bench.timing import Spread
from benchmark.launch.quickstart import STUDENT_MODEL, TEACHER_MODEL

SECTIONS = ("steps", "losses", "harness", "data")
QUICK = StepSetting(warmup=1, rounds=4)
FULL = StepSetting(warmup=3, rounds=15)


def kd_methods() -> list[str]:
    from benchmark.distill.methods import METHODS

    return [n for n in METHODS.names() if METHODS.get(n).needs_teacher]


def run_bench(
    *,
    quick: bool,
    methods: Sequence[str] | None = None,
    sections: Sequence[str] = SECTIONS,
    device: str = "auto",
    threads: int = 2,
    neon: bool = False,
    step_setting: StepSetting | None = None,
    echo: Any = None,
) -> dict[str, Any]:
    """Run the chosen ``sections``; returns the JSON-ready result (each figure a median with its spread)."""
    say = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    t_start = time.perf_counter()
    torch.set_num_threads(threads)
    st = step_setting or (QUICK if quick else FULL)
    st = dataclasses.replace(st, threads=threads, device=device, neon=neon or st.neon)
    result: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "threads": threads,
            "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
    }
    if "steps" in sections:
        chosen = list(methods) if methods else kd_methods()
        steps: dict[str, Any] = {
            "pair": f"{TEACHER_MODEL} -> {STUDENT_MODEL}",
            "setting": dataclasses.asdict(st),
            "targets": {"live": LIVE_TARGET, "cached": CACHED_TARGET},
            "methods": {},
        }
        with tempfile.TemporaryDirectory(prefix="dfmsd-bench-") as tmp:
            ckpt = save_random_teacher(Path(tmp) / "teacher.pt", st)
            plain = plain_trainer(st, Path(tmp), ckpt)
            for method in chosen:
                say(f"bench: distillation step, {method} ({st.warmup} warm-up + {st.rounds} rounds)")
                steps["methods"][method] = bench_method(method, st, Path(tmp), ckpt, plain)
        result["steps"] = steps
    if "losses" in sections:
        say("bench: loss forward+backward micro-benchmarks (scripts/bench_losses.py cases)")
        result["losses"] = bench_losses(quick=quick, device="cuda" if device.startswith("cuda") else "cpu")
    if "harness" in sections:
        say("bench: scheduler utilisation on the smoke sweep")
        result["harness"] = bench_harness(quick=quick)
    if "data" in sections:
        say("bench: CPU data pipeline, ours vs mmdet 3.3's loader, 0/1/2 workers")
        result["data"] = bench_data(quick=quick)
    result["run_time_s"] = round(time.perf_counter() - t_start, 1)
    return result


def _ratio(d: dict[str, float], target: float) -> str:
    s = Spread(**d)
    flag = "ok" if s.median <= target else "OVER"
    return f"{s.median:.3f} [{s.q1:.2f}-{s.q3:.2f}] {flag}"


def format_report(result: dict[str, Any]) -> str:
    """The human-readable table of a :func:`run_bench` result."""
    m = result["machine"]
    lines = [
        f"dfmsd-bench bench ({result['mode']}), {result['started']}: {m['platform']}, {m['threads']} threads, "
        f"torch {m['torch']}{', ' + m['cuda'] if m['cuda'] else ''}; run time {result['run_time_s']:.0f} s",
        "figures: median [interquartile range] over rounds after warm-up; ratios are taken round by round",
    ]
    steps = result.get("steps")
    if steps:
        st = steps["setting"]
        lines += [
            "",
            f"distillation step, {steps['pair']} "
            f"({'NEON tiles, ImageNet trunks' if st['neon'] else 'random init, synthetic'}), "
            f"{st['input_size']}x{st['input_size']} batch "
            f"{st['batch_size']}, {st['rounds']} rounds after {st['warmup']} warm-up, device "
            f"{next(iter(steps['methods'].values()), {}).get('device', '?')}:",
        ]
        header = (
            f"{'method':8s} {'teacher s':>9s} {'plain s':>8s} {'live s':>8s} {'cached s':>8s} {'loss s':>7s}  "
            f"{'live/(teacher+plain) <= ' + format(LIVE_TARGET, '.2f'):>32s}  "
            f"{'cached/plain <= ' + format(CACHED_TARGET, '.2f'):>26s}  {'dloss fp32':>10s} {'dloss fp16':>10s}"
        )
        lines += [header, "-" * len(header)]
        for method, r in steps["methods"].items():
            t = {k: v["median"] for k, v in r["times_s"].items()}
            cached = _ratio(r["cached_ratio"], CACHED_TARGET) if r["cache_used"] else "cache not used"
            eff = r["loss_effect"]
            lines.append(
                f"{method:8s} {t['teacher']:9.3f} {t['plain']:8.3f} {t['live']:8.3f} {t['cached']:8.3f} "
                f"{t['loss']:7.3f}  "
                f"{_ratio(r['live_ratio'], LIVE_TARGET):>32s}  {cached:>26s}  "
                f"{eff['fp32_rel']:10.1e} {eff['fp16_rel']:10.1e}"
            )
        lines.append("loss s: the distillation loss's forward+backward alone (the method's own cost)")
        lines.append("dloss: relative change of the total distillation loss vs the live teacher (same batch)")
    losses = result.get("losses")
    if losses:
        lines.append("")
        if "missing" in losses:
            lines.append(f"loss micro-benchmarks: missing: {losses['missing']}")
        else:
            s = losses["setting"]
            lines.append(
                f"loss forward+backward, batch {s['batch']}, {s['channels']} channels, input "
                f"{s['input_hw'][0]}x{s['input_hw'][1]}, {s['repeats']} repeats after {s['warmup']} warm-up:"
            )
            lines.append(f"{'case':18s} {'median ms':>10s} {'IQR ms':>19s} {'ratio':>8s}  vs")
            for name, c in losses["cases"].items():
                t = Spread(**c["times_s"])
                ratio = f"{c['ratio']['median']:8.2f}  {c['vs']}" if "ratio" in c else f"{'':8s}"
                lines.append(f"{name:18s} {t.median * 1e3:10.2f} {t.q1 * 1e3:9.2f}-{t.q3 * 1e3:<9.2f} {ratio}")
    harness = result.get("harness")
    if harness:
        lines.append("")
        if "missing" in harness:
            lines.append(f"scheduler utilisation: missing: {harness['missing']}")
        else:
            lines.append(
                f"scheduler utilisation, {harness['sweep']} ({harness['runs']} runs), {harness['workers']} local "
                f"workers, {harness['trainer']} trainer: {100 * harness['utilization']:.1f} % (target >= 90 %); "
                f"relaunch of the finished sweep {harness['relaunch_s']:.2f} s in process, "
                f"{harness['relaunch_cli_s']:.1f} s via the CLI, {harness['relaunch_trained']} runs retrained"
            )
    data = result.get("data")
    if data:
        lines += ["", *format_data(data)]
    return "\n".join(lines)
