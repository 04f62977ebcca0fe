"""Cost per model and method: parameters, FLOPs, step time, KD overhead, inference time."""

from __future__ import annotations

import math

import pandas as pd

from reports.conditions import STAGE_NOTE, conditions, stage_reading, student_alone, variant_labels, variant_order
from reports.formatting import fmt_num
from reports.load import done
from reports.methods import PROPOSED
from reports.render import Cell, Table
from reports.stats import summarize


def cost_table(frame: pd.DataFrame, *, digits: int = 2) -> Table:
    """Per model and method: parameters, FLOPs, step time, KD overhead, inference time (means over seeds).

    KD overhead = mean step time of the condition / mean step time of the ``none`` run of the same student
    (same base key); when that run is missing, the record's own ``cost.kd_overhead``.
    """
    header = ("Model", "Method", "Teacher", "Params (M)", "GFLOPs", "Step (ms)", "KD overhead", "Infer (ms/img)", "n")
    rows, records = [], []
    conds = [c for c in conditions(frame) if len(c.finished)]
    labels = variant_labels(conds)
    order = variant_order(conds)
    for c in sorted(conds, key=lambda c: (str(c.first["student"]), c.method in PROPOSED, order[c.key])):
        fin = c.finished

        def mean(col: str, fin: pd.DataFrame = fin) -> float:
            return summarize(fin[col].tolist()).mean if col in fin else math.nan

        step = mean("cost.step_time_s")
        if c.method == "none":
            overhead = 1.0
        else:
            alone = student_alone(frame, c)
            base_step = summarize(done(alone.runs)["cost.step_time_s"].tolist()).mean if alone else math.nan
            overhead = step / base_step if math.isfinite(base_step) and base_step > 0 else mean("cost.kd_overhead")
        params, flops, infer = mean("cost.params"), mean("cost.flops"), mean("cost.infer_time_s")
        rows.append(
            (
                Cell(str(c.first["student"])),
                Cell(labels[c.key] if c.method != "none" else f"none ({c.first['role']})"),
                Cell(str(c.first["teachers"]) or "–"),
                Cell(fmt_num(params / 1e6, digits)),
                Cell(fmt_num(flops / 1e9, digits)),
                Cell(fmt_num(step * 1e3, 1)),
                Cell(f"{fmt_num(overhead, digits)}×" if math.isfinite(overhead) else "–"),
                Cell(fmt_num(infer * 1e3, 1)),
                Cell(str(len(fin))),
            )
        )
        records.append(
            {
                "model": c.first["student"],
                "method": c.method,
                "variant": labels[c.key],
                "teachers": c.first["teachers"],
                "role": c.first["role"],
                "params": params,
                "flops": flops,
                "step_time_s": step,
                "kd_overhead": overhead,
                "infer_time_s": infer,
                "n": len(fin),
                "config_key": c.key,
            }
        )
    caption = (
        "Cost per model and method, means over finished seeds: parameters and FLOPs of the detector at its card's "
        "input size (a multiply-add counts 2 FLOPs), median training step time, KD overhead = step time with KD "
        "/ step time of the same student trained alone, inference time per image."
    )
    if any(stage_reading(c) for c in conds):
        caption += f" {STAGE_NOTE}"
    return Table(
        name="cost",
        title="Cost",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records),
        align="lll" + "r" * 6,
    )
