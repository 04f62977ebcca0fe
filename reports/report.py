"""Write a report: every table of :func:`reports.tables.build_tables` in the chosen formats.

Layout under ``out``::

    report.md            all tables in one Markdown document (when "md" is asked for)
    tex/<table>.tex      one booktabs table per file, ready to \\input
    csv/<table>.csv      the tidy numbers of each table

Output depends only on the records: no timestamps, no absolute paths, sorted rows, fixed float formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from benchmark.config import sanitize_name
from reports.render import RENDERERS, Table, render_csv, render_latex, render_markdown
from reports.tables import build_tables, run_overview

FORMATS = tuple(RENDERERS)


def parse_formats(text: str) -> tuple[str, ...]:
    """``"md,tex"`` → ``("md", "tex")``; raises ValueError naming an unknown format."""
    formats = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"--format {text!r}: unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}"
        )
    return formats


def markdown_document(frame: pd.DataFrame, tables: Sequence[Table]) -> str:
    parts = ["# dfmsd-bench report", "", run_overview(frame), ""]
    parts += [render_markdown(t) for t in tables]
    return "\n".join(parts).rstrip("\n") + "\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def write_report(
    frame: pd.DataFrame,
    out: str | Path,
    *,
    formats: Iterable[str] = FORMATS,
    orders: Mapping[str, Sequence[str]] | None = None,
    paper_rows: Sequence[object] = (),
    digits: int = 1,
) -> tuple[list[Table], list[Path]]:
    """Build the tables and write them; returns the tables and the written files (sorted)."""
    out = Path(out)
    formats = tuple(formats)
    tables = build_tables(frame, orders=orders, paper_rows=paper_rows, digits=digits)
    written: list[Path] = []
    if "md" in formats:
        written.append(_write(out / "report.md", markdown_document(frame, tables)))
    for table in tables:
        if "tex" in formats:
            written.append(_write(out / "tex" / f"{sanitize_name(table.name)}.tex", render_latex(table)))
        if "csv" in formats:
            written.append(_write(out / "csv" / f"{sanitize_name(table.name)}.csv", render_csv(table)))
    return tables, sorted(written)
