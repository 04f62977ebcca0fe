"""Measured GPU training rates: the file ``scripts/bench_gpu_step.py --out`` writes and ``dfmsd-bench plan
--gpu-rate FILE`` reads to turn a plan's FLOP estimate into GPU-hours.

A row of the file is one measured step: the method (``none`` = the plain student), ``train.amp``, images/s and
the FLOPs of one image by the planner's own model (:func:`benchmark.launch.plan.image_flops` at the measured input
size), hence an *effective* TFLOP/s = FLOPs per image x images/s. The planner divides each run's estimated FLOPs by
the effective rate of its method and amp (else the plain student's at that amp, else the file's plain fp32 rate),
so the card-FLOP model and the measured speed calibrate each other. Without a file the rate is an assumption
(``--gpu-tflops``, default 100), and ``plan`` says so.

File (JSON): ``{"kind": "dfmsd-bench gpu rate", "version": 1, "device": ..., "measured": iso time,
"command": ..., "student": ..., "teacher": ..., "input": [h, w], "batch": n, "rows": [{"method", "amp",
"images_per_s", "flops_per_image", "tflops"}, ...], "mmdet": [{"amp", "images_per_s"}], ...}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KIND = "dfmsd-bench gpu rate"
VERSION = 1


@dataclass(frozen=True)
class GpuRate:
    """A loaded rate file: effective TFLOP/s per (method, amp)."""

    source: str
    device: str
    measured: str
    tflops: dict[tuple[str, str], float]

    def for_run(self, method: str, amp: str) -> tuple[float, str]:
        """``(TFLOP/s, which row)`` for a run of ``method`` at ``amp``: its own row, else the plain student's at that
        amp, else the plain student's in fp32; ValueError when the file has none of them."""
        for key in ((method, amp), ("none", amp), ("none", "off")):
            if key in self.tflops:
                return self.tflops[key], f"{key[0]}/{key[1]}"
        raise ValueError(f"{self.source}: no row for method {method!r} (amp {amp}) and no plain-student row")

    def describe(self) -> str:
        rows = ", ".join(f"{m}/{a} {t:.1f}" for (m, a), t in sorted(self.tflops.items()))
        return f"{self.source} ({self.device}, {self.measured}): effective TFLOP/s {rows}"


def load_gpu_rate(path: str | Path) -> GpuRate:
    """The rate file at ``path``; ValueError with one line naming the file and the problem."""
    path = Path(path)
    try:
        data: Any = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such GPU rate file (scripts/bench_gpu_step.py --out writes one)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND or data.get("version") != VERSION:
        raise ValueError(f"{path}: not a dfmsd-bench GPU rate file (kind {KIND!r}, version {VERSION})")
    rates: dict[tuple[str, str], float] = {}
    for i, row in enumerate(data.get("rows") or []):
        try:
            tflops = float(row["tflops"])
            key = (str(row["method"]), str(row["amp"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: rows[{i}]: needs method, amp and a number tflops") from None
        if not tflops > 0:
            raise ValueError(f"{path}: rows[{i}]: tflops must be > 0, got {tflops}")
        rates[key] = tflops
    if not rates:
        raise ValueError(f"{path}: no measured rows")
    return GpuRate(str(path), str(data.get("device", "?")), str(data.get("measured", "?")), rates)
