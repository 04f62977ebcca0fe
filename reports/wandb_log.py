"""Tables and figures of a report into W&B: one run per report in the sweep's group, beside the harness's
``<sweep>-summary`` run, with every table as a ``wandb.Table`` (rows of a method carry its figure colour) and
every PNG figure as a ``wandb.Image``; the run config holds the method → colour map.

The run id is derived from the sweep names, so ``report --wandb`` and ``plot --wandb`` (and reruns) add to
the same run instead of creating new ones. Mode: ``benchmark.run.tracking.resolve_mode`` (offline without an
API key). A W&B failure is a warning: the report files are already on disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from benchmark.config import TrackingConfig, sanitize_name
from reports.render import Table
from reports.style import method_color


def report_run_id(sweeps: Sequence[str]) -> str:
    names = sorted(set(sweeps))
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:8]
    return sanitize_name(f"report-{'+'.join(names)}", max_len=48) + f"-{digest}"


def tracking_of(frame: pd.DataFrame) -> TrackingConfig:
    """Project and entity of the records (the first run's), W&B on with mode ``auto``."""
    project = (
        frame["tracking.project"].dropna().iloc[0]
        if "tracking.project" in frame and frame["tracking.project"].notna().any()
        else "dfmsd-bench"
    )
    entity = (
        frame["tracking.entity"].dropna().iloc[0]
        if "tracking.entity" in frame and frame["tracking.entity"].notna().any()
        else None
    )
    return TrackingConfig(wandb=True, mode="auto", project=str(project), entity=entity)


def table_frame(table: Table) -> pd.DataFrame:
    """The rows W&B gets for ``table``: its tidy numbers, with a ``color`` column (the method's colour of
    :func:`reports.style.method_color`, ``#RRGGBB``) beside a ``method`` column, so that W&B charts of a
    report use the colours of its figures."""
    data = table.data.copy()
    if "method" in data.columns:
        data.insert(data.columns.get_loc("method") + 1, "color", data["method"].map(lambda m: method_color(str(m))))
    return data


def method_colors(frame: pd.DataFrame) -> dict[str, str]:
    """Method → ``#RRGGBB`` for the methods of ``frame`` (stored in the report run's config)."""
    return {str(m): method_color(str(m)) for m in sorted(frame["method"].unique())}


def log_report(
    frame: pd.DataFrame,
    out: str | Path,
    *,
    tables: Sequence[Table] = (),
    figures: Sequence[Path] = (),
    mode: str | None = None,
    warn: Callable[[str], None] = print,
) -> Path | None:
    """Log ``tables`` and the PNGs among ``figures``; returns the W&B run folder (None when off/failed)."""
    from benchmark.run.record import one_line
    from benchmark.run.tracking import init_wandb, resolve_mode

    tracking = tracking_of(frame)
    mode = mode or resolve_mode(tracking)
    if mode == "disabled":
        return None
    sweeps = sorted(frame["sweep"].unique())
    try:
        import wandb

        run = init_wandb(
            mode=mode,
            warn=warn,
            project=tracking.project,
            entity=tracking.entity,
            group="+".join(sweeps),
            job_type="sweep-report",
            name=f"{'+'.join(sweeps)}-report",
            id=report_run_id(sweeps),
            resume="allow",
            tags=["sweep-summary", "report"],
            dir=str(Path(out)),
        )
        run.config.update({"method_colors": method_colors(frame)}, allow_val_change=True)
        payload: dict[str, object] = {}
        for table in tables:
            data = table_frame(table)
            payload[f"tables/{table.name}"] = wandb.Table(dataframe=data.astype(object).where(data.notna(), None))
        for fig in sorted(Path(f) for f in figures):
            if fig.suffix == ".png":
                payload[f"figures/{fig.stem}"] = wandb.Image(str(fig))
        if payload:
            run.log(payload)
        folder = Path(run.dir).parent
        run.finish()
        return folder
    except Exception as exc:  # tracking must never turn a written report into an error
        warn(f"warning: W&B report run failed: {one_line(f'{type(exc).__name__}: {exc}')}")
        return None
