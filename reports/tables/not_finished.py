"""Runs that did not finish (failed, running, queued, unreadable), with their reason."""

from __future__ import annotations

import pandas as pd

from reports.load import not_finished
from reports.render import Cell, Table


def not_finished_table(frame: pd.DataFrame) -> Table:
    """Every run that is not done (failed, running, queued, unreadable), with its reason."""
    pending = not_finished(frame).sort_values(["sweep", "run_id"], kind="stable")
    header = ("Sweep", "Run", "Method", "State", "Progress", "Reason")
    rows, records = [], []
    for _, r in pending.iterrows():
        it, total = r.get("iteration"), r.get("total_iterations")
        progress = f"{int(it)}/{int(total)}" if pd.notna(it) and pd.notna(total) else "–"
        reason = str(r["reason"]) if r.get("reason") is not None and pd.notna(r.get("reason")) else ""
        rows.append(tuple(Cell(x) for x in (r["sweep"], r["run_id"], r["method"], r["state"], progress, reason)))
        records.append(
            {
                "sweep": r["sweep"],
                "run_id": r["run_id"],
                "method": r["method"],
                "state": r["state"],
                "progress": progress,
                "reason": reason,
            }
        )
    caption = f"Runs not finished: {len(rows)} of {len(frame)} (excluded from every other table)."
    return Table(
        name="not_finished",
        title="Not finished",
        caption=caption,
        header=header,
        rows=tuple(rows),
        data=pd.DataFrame(records, columns=["sweep", "run_id", "method", "state", "progress", "reason"]),
    )
