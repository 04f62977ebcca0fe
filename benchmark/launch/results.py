"""What a sweep directory holds, read from the records alone: rows for ``status``, the end-of-run table
and the sweep-level W&B summary run (a ``wandb.Table`` of every run). Cache nodes (records under
``<out>/cache/nodes/``) are not runs: :func:`collect_cache_rows` and :func:`format_cache_table` show them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmark.launch.plan import CACHE_NODES_DIR
from benchmark.launch.scheduler import read_plan_file, run_state
from benchmark.run.record import RunRecord, one_line

METRIC_KEYS = ("mAP", "AP50", "AP75", "APs", "APm", "APl")
TABLE_COLUMNS = (
    "run_id",
    "role",
    "method",
    "model",
    "teachers",
    "seed",
    "state",
    "best_mAP",
    *METRIC_KEYS,
    "train_time_s",
    "reason",
)


def collect_rows(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """One row per run directory under ``<out>/runs`` (plan order first, then any others by name)."""
    root = Path(out) / "runs"
    planned = {e["run_id"]: e for e in read_plan_file(out)}
    names = [rid for rid in planned if (root / rid).is_dir()]
    if root.is_dir():
        names += sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in planned)
    return [_row(root / rid, planned.get(rid)) for rid in names]


def _row(path: Path, entry: dict[str, Any] | None) -> dict[str, Any]:
    record = RunRecord(path)
    try:
        status = record.read_status() or {}
        metrics = record.read_metrics()
    except ValueError as exc:  # a damaged file: show it, do not crash the table
        status, metrics = {"state": "failed", "reason": one_line(str(exc))}, None
    if entry is None:
        entry = _entry_from_config(record)
    final = (metrics.final if metrics else None) or {}
    return {
        "run_id": path.name,
        "role": entry.get("role", "?"),
        "method": entry.get("method", "?"),
        "model": entry.get("model", "?"),
        "teachers": "+".join(entry.get("teachers") or []),
        "seed": entry.get("seed"),
        "state": run_state(path) if status else "missing",
        "iteration": status.get("iteration") or 0,
        "total_iterations": status.get("total_iterations"),
        "eta_s": status.get("eta_s"),
        "attempt": status.get("attempt"),
        "best_mAP": ((metrics.best if metrics else None) or {}).get("mAP"),
        **{k: final.get(k) for k in METRIC_KEYS},
        "train_time_s": metrics.cost.train_time_s if metrics else None,
        "reason": status.get("reason"),
    }


def _entry_from_config(record: RunRecord) -> dict[str, Any]:
    try:
        cfg = record.load_config()
    except (FileNotFoundError, ValueError):
        return {}
    return {
        "role": cfg.role,
        "method": cfg.distill.method,
        "model": cfg.model.name,
        "teachers": [s.teacher.model.name for s in cfg.distill.stage_list()],
        "seed": cfg.seed,
    }


def collect_cache_rows(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """One row per cache node record under ``<out>/cache/nodes`` (plan order first): id, teacher, state,
    students, estimated size, reason."""
    root = Path(out).joinpath(*CACHE_NODES_DIR)
    planned = {e["id"]: e for e in read_plan_file(out, "caches")}
    names = [n for n in planned if (root / n).is_dir()]
    if root.is_dir():
        names += sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in planned)
    rows = []
    for name in names:
        entry = planned.get(name, {})
        try:
            status = RunRecord(root / name).read_status() or {}
        except ValueError as exc:
            status = {"state": "failed", "reason": one_line(str(exc))}
        rows.append(
            {
                "id": name,
                "teacher": entry.get("teacher", "?"),
                "state": run_state(root / name) if status else "missing",
                "students": len(entry.get("students") or []),
                "bytes": entry.get("bytes"),
                "cached": status.get("cached"),
                "reason": status.get("reason"),
            }
        )
    return rows


def format_cache_table(rows: Sequence[dict[str, Any]]) -> str:
    """The cache nodes as a small table (empty string when there are none)."""
    from benchmark.cache.policy import size_text

    if not rows:
        return ""
    lines = [("CACHE NODE", "TEACHER", "STATE", "STUDENTS", "EST. SIZE")]
    for r in rows:
        size = size_text(r["bytes"]) if isinstance(r["bytes"], int | float) else "?"
        lines.append((r["id"], r["teacher"], r["state"], str(r["students"]), size))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    text.append(f"{len(rows)} cache nodes: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    text += [
        f"  {r['id']}: {r['reason']} (its students read or build the cache themselves)"
        for r in rows
        if r["state"] == "failed" and r["reason"]
    ]
    return "\n".join(text)


def format_table(rows: Sequence[dict[str, Any]], *, width: int = 48) -> str:
    """A fixed-width text table: run, role, method, state, progress, ETA, best mAP (+ failure reasons)."""
    header = ("RUN", "ROLE", "METHOD", "STATE", "PROGRESS", "ETA", "BEST mAP")
    lines = [header]
    for r in rows:
        total = r["total_iterations"]
        progress = f"{r['iteration']}/{total} {100 * r['iteration'] / total:3.0f}%" if total else "-"
        eta = _duration(r["eta_s"]) if r["state"] == "running" else "-"
        best = f"{r['best_mAP']:.4f}" if isinstance(r["best_mAP"], int | float) else "-"
        rid = r["run_id"] if len(r["run_id"]) <= width else r["run_id"][: width - 3] + "..."
        lines.append((rid, r["role"], r["method"], r["state"], progress, eta, best))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    text.append(f"{len(rows)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    text += [f"  {r['run_id']}: {r['reason']}" for r in rows if r["state"] == "failed" and r["reason"]]
    return "\n".join(text)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def log_wandb_summary(
    name: str,
    out: str | os.PathLike[str],
    rows: Sequence[dict[str, Any]],
    tracking: Any,
    *,
    warn: Callable[[str], None] = print,
) -> Path | None:
    """A W&B run ``<name>-summary`` (group = sweep name) with the results as a ``wandb.Table``.

    Offline without an API key (``tracking.mode: auto``); no-op when tracking is off. Returns the W&B run
    folder, or None. A W&B failure is a warning: the sweep's results are already on disk.
    """
    from benchmark.run.tracking import init_wandb, resolve_mode

    mode = resolve_mode(tracking)
    if mode == "disabled":
        return None
    try:
        import wandb

        run = init_wandb(
            mode=mode,
            warn=warn,
            config={"sweep": name, "runs": len(rows)},
            project=tracking.project,
            entity=tracking.entity,
            group=name,
            job_type="sweep-summary",
            name=f"{name}-summary",
            tags=["sweep-summary"],
            dir=str(Path(out)),
        )
        table = wandb.Table(columns=list(TABLE_COLUMNS), data=[[r.get(c) for c in TABLE_COLUMNS] for r in rows])
        run.log({"results": table})
        for state in ("done", "failed"):
            run.summary[f"runs_{state}"] = sum(r["state"] == state for r in rows)
        folder = Path(run.dir).parent
        run.finish()
        return folder
    except Exception as exc:  # tracking must never turn a finished sweep into an error
        warn(f"warning: W&B summary run failed: {one_line(f'{type(exc).__name__}: {exc}')}")
        return None
