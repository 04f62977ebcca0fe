"""Comparison per teacher→student pair: the student alone, then each method; metrics, Δ mAP and p-values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports.conditions import (
    STAGE_NOTE,
    Condition,
    conditions,
    stage_reading,
    student_alone,
    variant_labels,
    variant_order,
)
from reports.formatting import (
    CELL_NOTE,
    METRIC_HEADERS,
    P_TEST,
    TABLE_METRICS,
    bold_best,
    fmt_num,
    fmt_p,
    fmt_summary,
    summary_columns,
)
from reports.methods import PROPOSED
from reports.render import Cell, Table
from reports.stats import (
    PairedTest,
    Summary,
    best_on_shared_seeds,
    minimal_detectable_difference,
    paired_t_test,
    seeds_for_difference,
    summarize,
)


def best_baseline(baselines: Sequence[Condition]) -> Condition | None:
    """The baseline with the highest mean validation mAP over the seeds every baseline has, when all have
    validation numbers; else the highest mean mAP of the split shown, over the seeds they share."""
    metric = "val_mAP" if baselines and all(c.values("val_mAP") for c in baselines) else "mAP"
    index, _ = best_on_shared_seeds([c.values(metric) for c in baselines])
    return None if index is None else baselines[index]


def comparison_table(frame: pd.DataFrame, *, digits: int = 1, proposed: Sequence[str] = PROPOSED) -> Table:
    """Per teacher→student pair: the student alone, then each method; metrics, Δ mAP and p-values.

    A pair is (student, final teacher, base key): a stage-wise run joins the pair of its last-stage teacher
    and its label carries the stage reading (``DFMSD S-a``; the chain is in the cost table)."""
    distilled = [c for c in conditions(frame) if c.method != "none" and len(c.finished)]
    pairs: dict[tuple[str, str, str], list[Condition]] = {}
    for c in distilled:
        pairs.setdefault((str(c.first["student"]), str(c.first["teacher"]), str(c.first["base_key"])), []).append(c)
    per_student_pair: dict[tuple[str, str], int] = {}
    for student, teacher, _ in pairs:
        per_student_pair[(student, teacher)] = per_student_pair.get((student, teacher), 0) + 1

    header = ("Teacher (mAP)", "Student (alone)", "Method", *(METRIC_HEADERS[m] for m in TABLE_METRICS))
    header = (*header, "Δ mAP", "MDD", "p vs student", "p vs best baseline")
    rows: list[tuple[Cell, ...]] = []
    records: list[dict[str, object]] = []
    breaks: list[int] = []
    for (student, teacher, _), conds in sorted(pairs.items()):
        order = variant_order(conds)
        conds = sorted(conds, key=lambda c: (c.method in proposed, order[c.key]))
        alone = student_alone(frame, conds[0])
        labels = variant_labels(conds)
        teacher_summary = summarize(v * 100 for c in conds for v in c.finished["teacher_mAP"].tolist() if pd.notna(v))
        alone_summary = alone.summary("mAP") if alone else Summary(math.nan, math.nan, 0)
        schedule = str(conds[0].first["schedule"])
        student_label = student if per_student_pair[(student, teacher)] == 1 else f"{student} [{schedule}]"
        teacher_cell = f"{teacher}: {fmt_num(teacher_summary.mean, digits)}"
        student_cell = f"{student_label}: {fmt_summary(alone_summary, digits)}"

        baselines = [c for c in conds if c.method not in proposed]
        best = best_baseline(baselines)
        entries: list[tuple[str, Condition, PairedTest | None, PairedTest | None]] = []
        if alone is not None:
            entries.append(("student alone", alone, None, None))
        for c in conds:
            vs_alone = paired_t_test(c.values("mAP"), alone.values("mAP")) if alone else None
            vs_best = paired_t_test(c.values("mAP"), best.values("mAP")) if best and best is not c else None
            entries.append((labels[c.key], c, vs_alone, vs_best))

        columns: list[list[str]] = []
        column_means: list[list[float]] = []
        for metric in TABLE_METRICS:
            sums = [e[1].summary(metric) for e in entries]
            columns.append([fmt_summary(s, digits) for s in sums])
            column_means.append([s.mean for s in sums])
        deltas = [
            Summary(t.mean_diff, t.std_diff, t.n) if t else Summary(math.nan, math.nan, 0) for _, _, t, _ in entries
        ]
        columns.append([fmt_summary(s, digits, sign=True) if s.n else "–" for s in deltas])
        column_means.append([s.mean for s in deltas])
        bolded = [bold_best(texts, means, digits) for texts, means in zip(columns, column_means)]

        breaks.append(len(rows))
        for i, (label, cond, vs_alone, vs_best) in enumerate(entries):
            first_cells = (Cell(teacher_cell), Cell(student_cell)) if i == 0 else (Cell(""), Cell(""))
            mdd = minimal_detectable_difference(vs_alone.std_diff, vs_alone.n) if vs_alone else math.nan
            mdd_cell = Cell(fmt_num(mdd, digits) if math.isfinite(mdd) else "–")
            p_cells = (
                mdd_cell,
                Cell(fmt_p(vs_alone.p) if vs_alone else "–"),
                Cell(fmt_p(vs_best.p) if vs_best else "–"),
            )
            rows.append((*first_cells, Cell(label), *(col[i] for col in bolded), *p_cells))
            record: dict[str, object] = {
                "teacher": teacher,
                "teachers": str(cond.first["teachers"]),
                "teacher_mAP": teacher_summary.mean,
                "student": student,
                "schedule": schedule,
                "student_alone_mAP": alone_summary.mean,
                "method": cond.method,
                "variant": label,
                "config_key": cond.key,
            }
            for metric in TABLE_METRICS:
                record.update(summary_columns(metric, cond.summary(metric)))
            record.update(summary_columns("delta_mAP", deltas[i]))
            record["mdd_mAP"] = mdd
            record["seeds_for_mdd_1"] = seeds_for_difference(vs_alone.std_diff, 1.0) if vs_alone else None
            record["p_vs_student"] = vs_alone.p if vs_alone else math.nan
            record["p_vs_best_baseline"] = vs_best.p if vs_best else math.nan
            record["best_baseline"] = labels[best.key] if best else ""
            records.append(record)

    caption = (
        f"Teacher→student comparison. {CELL_NOTE}; best per pair and column in bold. Δ mAP: per-seed "
        f"difference to the same student trained alone. MDD: the minimal detectable Δ mAP at 80 % power "
        f"(two-sided paired t-test, α = 0.05) from the observed paired s.d. over the seeds. {P_TEST}; the best "
        f"baseline is the non-proposed method with the highest mean mAP in the pair, on the validation split "
        f"when every baseline has validation numbers (else on the split shown), over the seeds they share."
    )
    if any(stage_reading(c) for c in distilled):
        caption += f" {STAGE_NOTE}"

    return Table(
        name="comparison",
        title="Comparison per teacher→student pair",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records),
        breaks=tuple(breaks),
        align="lll" + "r" * (len(TABLE_METRICS) + 4),
    )
