"""Report tables built from the run frame of :mod:`reports.load`, one module per table: comparison per
teacher→student pair, ablation and sensitivity per sweep, paper vs measured, cost per model and method, runs
that did not finish; :func:`build_tables` assembles them in report order.

Conventions shared by every table (our choices, stated in the captions):

* A *condition* is a set of seed replicates: runs with the same ``config_key`` (:mod:`reports.conditions`).
  Cells are mean ± sample std over its finished seeds with their count n: ``37.4 ± 0.3 (3)``; one seed gives
  ``37.4 (1)`` (:mod:`reports.formatting`).
* COCO metrics are shown in percent. The *student alone* of a distilled run is the ``none`` run with the
  same ``base_key`` (the same config apart from ``distill.*``); Δ and p are paired by seed against it.
* p is a two-sided paired t-test on mAP over seeds matched by seed (:func:`reports.stats.paired_t_test`).
* Rows are sorted deterministically; nothing depends on file order, time or the machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from reports.axes import numeric_axes
from reports.conditions import sweep_students
from reports.load import METRICS
from reports.paper import PaperRow
from reports.render import Table
from reports.tables.ablation import ablation_table
from reports.tables.comparison import comparison_table
from reports.tables.cost import cost_table
from reports.tables.not_finished import not_finished_table
from reports.tables.paper_vs_measured import paper_table
from reports.tables.sensitivity import sensitivity_table


def build_tables(
    frame: pd.DataFrame,
    *,
    orders: Mapping[str, Sequence[str]] | None = None,
    paper_rows: Sequence[PaperRow] = (),
    digits: int = 1,
) -> list[Table]:
    """Every table of a report, in report order (empty tables are left out, except "Not finished")."""
    orders = orders or {}
    tables: list[Table] = []
    comparison = comparison_table(frame, digits=digits)
    if comparison.rows:
        tables.append(comparison)
    for sweep in sorted(frame["sweep"].unique()):
        ablation = ablation_table(sweep, frame, order=orders.get(sweep, ()), digits=digits)
        if ablation is not None:
            tables.append(ablation)
        for axis in numeric_axes(sweep_students(frame, sweep)):
            tables.append(sensitivity_table(sweep, frame, axis, digits=digits))
    if paper_rows:
        tables.append(paper_table(frame, paper_rows, digits=digits))
    cost = cost_table(frame)
    if cost.rows:
        tables.append(cost)
    tables.append(not_finished_table(frame))
    return tables


def run_overview(frame: pd.DataFrame) -> str:
    """One deterministic line: how many runs from which sweeps, how many finished."""
    sweeps = ", ".join(sorted(frame["sweep"].unique()))
    states = frame["state"].value_counts().sort_index()
    counts = ", ".join(f"{n} {s}" for s, n in states.items())
    name = str(frame["split"].iloc[0]) if "split" in frame and len(frame) else "test"
    split = "validation split" if name == "val" else "test split"
    return f"{len(frame)} runs from {sweeps}: {counts}. Metrics: {', '.join(METRICS[:6])} (COCO, %), {split}."
