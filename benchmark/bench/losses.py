"""Loss forward+backward micro-benchmarks: the cases of ``scripts/bench_losses.py`` (owned by the baselines),
run here with the same interleaving, summarised as medians with spread and per-round ratios to each
group's first case."""

from __future__ import annotations

from typing import Any

from benchmark.bench.scripts import load_script
from benchmark.bench.timing import Spread, round_ratios


def bench_losses(*, quick: bool, device: str = "cpu") -> dict[str, Any]:
    """``{"setting": ..., "cases": {name: {"times_s", "ratio", "vs"}}}`` or ``{"missing": reason}``."""
    script = load_script("bench_losses")
    if script is None:
        return {"missing": "scripts/bench_losses.py not found (not a source checkout?)"}
    if quick:
        st = script.Setting(batch=2, channels=64, input_hw=(400, 608), device=device)
        warmup, repeats = 1, 3
    else:
        st = script.Setting(device=device)
        warmup, repeats = 2, 10
    results = script.run(st, list(script.CASES), warmup=warmup, repeats=repeats)
    firsts: dict[str, tuple[str, list[float]]] = {}
    cases = {}
    for case, times in results:
        ref_name, ref_times = firsts.setdefault(case.group, (case.name, times))
        entry: dict[str, Any] = {"group": case.group, "times_s": Spread.of(times).to_dict()}
        if case.name != ref_name:
            entry["vs"] = ref_name
            entry["ratio"] = Spread.of(round_ratios(times, ref_times)).to_dict()
        cases[case.name] = entry
    setting = {
        "batch": st.batch,
        "channels": st.channels,
        "input_hw": list(st.input_hw),
        "strides": list(st.strides),
        "boxes_per_image": st.boxes_per_image,
        "warmup": warmup,
        "repeats": repeats,
    }
    return {"setting": setting, "cases": cases}
