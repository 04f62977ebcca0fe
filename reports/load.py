"""Run records → one tidy pandas frame (one row per run), the only input of every table and figure.

A record is a run directory in the format of ``docs/record-format.md``. Every run found is a row, whatever
its state: failed, queued, running and unreadable runs keep their row (with ``state`` and ``reason``) so
that reports can list them instead of silently dropping them.

Columns
-------
* identity: ``run_id``, ``sweep`` (the sweep that planned the run per the harness's ``plan.json``, else the
  name of the output directory), ``out_dir`` (the output directory's name), ``run_dir``
* status: ``state`` (queued | running | done | failed | unknown | unreadable), ``reason``, ``iteration``,
  ``total_iterations``
* config axes: every leaf of ``config.yaml`` as a dotted column (``distill.options.mask_ratio``,
  ``train.lr`` ...; in an option column some run set, a run of the same method without it shows the method's
  default); lists of scalars become tuples, lists of mappings are flattened with their index
  (``distill.stages.0.fraction``)
* derived: ``method``, ``student`` (model name), ``teacher`` (the last-stage teacher's model name, "" without
  one), ``teachers`` (the stage chain, ``a→b``), ``distill.n_stages``, ``schedule`` (a ``schedule:<label>``
  tag of ``tracking.tags``; else ``1x``/``2x``/... for COCO runs of 12/24/... epochs; else ``<iterations>it``),
  ``role`` (student | teacher: metrics.json, else
  plan.json, else a ``teacher-`` run name)
* metrics: ``mAP AP50 AP75 APs APm APl AR1 AR10 AR100 ARs ARm ARl`` (final, COCO units in [0, 1], of the split
  ``load_runs`` was asked for; column ``split``), ``val_mAP`` (the validation mAP whatever the split: what choices
  are made on), ``stability.max_loss``, ``stability.max_ratio``,
  ``teacher_<metric>`` (teacher on the same split), ``cost.<field>``, ``best.mAP``, ``best.iter``
* machine: ``env.cpu`` (``"Intel 6/167"``: vendor and CPU family/model from env.json; "" when not recorded)
* grouping keys: ``config_key`` (seed replicates share it) and ``base_key`` (the run of the same student
  without distillation shares it), as the resolved run computed them (``resolved.yaml``: resolved values, so a
  spelled-out default groups with the plain run, as in the run id); for a record written before
  ``resolved.yaml`` existed, hashes of its config.yaml without seed and run-independent fields (and without the
  ``DISTILLATION_ONLY`` fields for ``base_key``)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark.run.metrics import RunMetrics
from benchmark.run.resolve import UNHASHED_DISTILL, UNHASHED_TRAIN
from reports.methods import option_defaults

METRICS = ("mAP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
SPLITS = ("test", "val")
COST_FIELDS = (
    "params",
    "flops",
    "train_time_s",
    "eval_time_s",
    "step_time_s",
    "teacher_time_s",
    "kd_overhead",
    "infer_time_s",
)
# Config fields that never change what a run computes (or that differ between replicas by construction).
UNKEYED_PREFIXES = ("name", "role", "seed", "run_id", "tracking.", "resources.")
# Fields that are not ablation/sensitivity axes even when they differ (paths, identities, bookkeeping, and
# every field the run id leaves out because it does not change what a run computes).
NON_AXIS_PREFIXES = (
    *UNKEYED_PREFIXES,
    "data.root",
    "model.checkpoint",
    "distill.teacher.",
    "train.device",
    *(f"train.{field}" for field in UNHASHED_TRAIN),
    *(f"distill.{field}" for field in UNHASHED_DISTILL),
    "train.log_every",
    "eval.batch_size",
    "eval.eval_teacher",
)
# Fields that belong to the distillation recipe, not to the student: runs that differ only here share a base
# key with the student trained alone (FGD/MGD's "inheriting" init copies teacher weights into the student).
DISTILLATION_ONLY = ("distill.", "eval.eval_teacher", "model.options.inherit_from")
COCO_TRAIN_IMAGES = 117_266  # train2017 images with boxes (mmdet's filtered set): 12 epochs = one "1x"


class RecordError(ValueError):
    """A path given to the loader that holds no run records."""


# ---------------------------------------------------------------------------- discovery


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "config.yaml").is_file() or (path / "status.json").is_file())


def find_run_dirs(paths: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """``(sweep name, run dir)`` for every run under ``paths``, sorted.

    Each path may be a sweep output directory (holding ``runs/``), a ``runs/`` directory itself, or a single
    run directory. A path with no run under it raises :class:`RecordError` (a typo should not produce an
    empty report); a missing path raises FileNotFoundError.
    """
    found: dict[Path, str] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such directory")
        if is_run_dir(path):
            sweep_dir = path.parent.parent if path.parent.name == "runs" else path.parent
            found[path.resolve()] = sweep_dir.resolve().name
            continue
        if (path / "runs").is_dir():
            runs_root, sweep_name = path / "runs", path.resolve().name
        else:
            runs_root = path
            sweep_name = (path.parent if path.name == "runs" else path).resolve().name
        runs = [p for p in sorted(runs_root.iterdir()) if is_run_dir(p)] if runs_root.is_dir() else []
        if not runs:
            raise RecordError(f"{path}: no run records (expected <dir>/runs/<run_id>/config.yaml)")
        for run in runs:
            found[run.resolve()] = sweep_name
    return sorted(((sweep, run) for run, sweep in found.items()), key=lambda t: (t[0], t[1].name))


def sweep_dir_of(run_dir: Path) -> Path:
    return run_dir.parent.parent if run_dir.parent.name == "runs" else run_dir.parent


def read_plan_entries(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    """``run_id -> entry`` of the harness's ``<out>/plan.json`` (sweep name, role, ...), ``{}`` without one."""
    path = sweep_dir / "plan.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    runs = data.get("runs") if isinstance(data, dict) else None
    return {str(e["run_id"]): e for e in runs or [] if isinstance(e, dict) and "run_id" in e}


def read_plan_sweeps(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    """``sweep name -> {source, ablation_order}`` from the harness's ``<out>/plan.json``, ``{}`` without one."""
    path = sweep_dir / "plan.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    sweeps = data.get("sweeps") if isinstance(data, dict) else None
    return sweeps if isinstance(sweeps, dict) else {}


def ablation_orders(paths: Iterable[str | Path]) -> dict[str, list[str]]:
    """``sweep name -> ablation_order`` for every sweep whose file declares one (recorded in ``plan.json``)."""
    orders: dict[str, list[str]] = {}
    for sweep_dir in sorted({sweep_dir_of(run_dir) for _, run_dir in find_run_dirs(paths)}):
        for sweep, entry in sorted(read_plan_sweeps(sweep_dir).items()):
            order = entry.get("ablation_order") if isinstance(entry, dict) else None
            if not order or sweep in orders:
                continue
            if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
                raise RecordError(f"{sweep_dir / 'plan.json'}: ablation_order: expected a list of keys")
            orders[sweep] = list(order)
    return orders


# ---------------------------------------------------------------------------- flattening


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings → dotted keys; lists of scalars → tuples; lists of mappings → indexed keys."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if value:
                out.update(flatten(value, name + "."))
            else:
                out[name] = None
        elif isinstance(value, list | tuple):
            if value and all(isinstance(v, Mapping) for v in value):
                for i, item in enumerate(value):
                    out.update(flatten(item, f"{name}.{i}."))
            else:
                out[name] = tuple(value)
        else:
            out[name] = value
    return out


def _key(config_flat: Mapping[str, Any], drop: Sequence[str]) -> str:
    """Hash of the config without the ``drop`` prefixes. None values count as absent, so an empty mapping
    (``model.options: {}``) and a mapping whose only keys were dropped give the same key."""
    kept = {k: v for k, v in config_flat.items() if not k.startswith(tuple(drop)) and v is not None}
    blob = json.dumps(kept, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _cpu(path: Path) -> str:
    """The machine a run trained on, short: ``"Intel 6/167"`` (vendor, CPU family/model) from env.json; "" for
    records without it (before env.json named the CPU) or unreadable ones."""
    try:
        cpu = (_read_json(path) or {}).get("cpu") or {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    if not isinstance(cpu, dict) or not cpu.get("family"):
        return ""
    vendor = str(cpu.get("model") or "").split(" ")[0].split("(")[0]
    return f"{vendor} {cpu['family']}/{cpu.get('model_id', '?')}".strip()


def _teacher_chain(config: Mapping[str, Any]) -> list[str]:
    distill = config.get("distill") or {}
    stages = distill.get("stages") or []
    teachers = [s.get("teacher") for s in stages] if stages else [distill.get("teacher")]
    return [str(((t or {}).get("model") or {}).get("name", "?")) for t in teachers if t]


def _schedule(config: Mapping[str, Any]) -> str:
    """A ``schedule:<label>`` tag; else, on COCO, ``<k>x`` when the run covers k·12 epochs of train2017
    (±2%, counting ``batch_size × processes`` images per iteration); else ``<iterations>it``."""
    tags = ((config.get("tracking") or {}).get("tags")) or []
    for tag in tags:
        if isinstance(tag, str) and tag.startswith("schedule:"):
            return tag.split(":", 1)[1]
    train = config.get("train") or {}
    iterations = train.get("iterations")
    if iterations is None:
        return ""
    if (config.get("data") or {}).get("dataset") == "coco":
        images = iterations * int(train.get("batch_size") or 1) * max(1, int(train.get("processes") or 1))
        multiple = images / COCO_TRAIN_IMAGES / 12
        if round(multiple) >= 1 and abs(multiple - round(multiple)) <= 0.02 * round(multiple):
            return f"{round(multiple)}x"
    return f"{iterations}it"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _metric(value: Any) -> float:
    x = _number(value)
    return math.nan if x < 0 else x


# ---------------------------------------------------------------------------- one run


def load_run(run_dir: Path, sweep: str = "", *, split: str = "test") -> dict[str, Any]:
    """One run record as a flat row (see the module docstring for the columns); the metric columns hold the
    final numbers of ``split`` ("test", or "val": the validation split the run was evaluated on)."""
    row: dict[str, Any] = {"run_id": run_dir.name, "sweep": sweep, "run_dir": str(run_dir)}
    problems: list[str] = []
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        config, _ = {}, problems.append("config.yaml missing")
    except yaml.YAMLError as exc:
        config, _ = {}, problems.append(f"config.yaml unreadable: {str(exc).splitlines()[0]}")
    if not isinstance(config, dict):
        config = {}
    try:
        status = _read_json(run_dir / "status.json") or {}
        raw_metrics = _read_json(run_dir / "metrics.json")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        status, raw_metrics = {}, None
        problems.append(f"status/metrics unreadable: {exc}")
    metrics = RunMetrics.from_dict(raw_metrics) if isinstance(raw_metrics, dict) else None
    resolved = _read_yaml(run_dir / "resolved.yaml")
    run_id = config.pop("run_id", None)
    if isinstance(run_id, str) and run_id:
        row["run_id"] = run_id
    flat = flatten(config)
    row.update(flat)
    row["state"] = "unreadable" if problems else str(status.get("state", "unknown"))
    row["reason"] = "; ".join(problems) if problems else status.get("reason")
    row["iteration"] = _number(status.get("iteration"))
    row["total_iterations"] = _number(status.get("total_iterations"))

    chain = _teacher_chain(config)
    recorded_method = metrics.method if metrics and raw_metrics.get("method") else None
    row["method"] = str(recorded_method or flat.get("distill.method") or "none")
    row["student"] = str(flat.get("model.name", ""))
    row["teacher"] = chain[-1] if chain and row["method"] != "none" else ""
    row["teachers"] = "→".join(chain) if row["method"] != "none" else ""
    row["distill.n_stages"] = len(chain) if row["method"] != "none" else 0
    row["schedule"] = _schedule(config)
    recorded_role = metrics.role if metrics and raw_metrics.get("role") else None
    row["role"] = str(recorded_role or resolved.get("role") or flat.get("role") or _legacy_role(flat))
    row["role_source"] = "metrics" if recorded_role or resolved.get("role") else "config"

    if split not in SPLITS:
        raise ValueError(f"split {split!r}: choose from {', '.join(SPLITS)}")
    row["split"] = split
    final, teacher_final = {}, {}
    if metrics is not None:
        final = (metrics.final_val if split == "val" else metrics.final) or {}
        teacher_final = (metrics.teacher_final_val if split == "val" else metrics.teacher_final) or {}
    for name in METRICS:  # pycocotools reports -1 for an area range without objects: undefined, not a value
        row[name] = _metric(final.get(name))
        row[f"teacher_{name}"] = _metric(teacher_final.get(name))
    row["val_mAP"] = _metric(((metrics.final_val if metrics else None) or {}).get("mAP"))  # choices, whatever split
    cost = vars(metrics.cost) if metrics else {}
    for name in COST_FIELDS:
        row[f"cost.{name}"] = _number(cost.get(name))
    best = (metrics.best if metrics else None) or {}
    row["best.mAP"] = _number(best.get("mAP"))
    row["best.iter"] = _number(best.get("iter"))
    stability = vars(metrics.stability) if metrics else {}
    for name in ("max_loss", "max_ratio", "max_ratio_iter"):
        row[f"stability.{name}"] = _number(stability.get(name))
    row["env.cpu"] = _cpu(run_dir / "env.json")
    if row["state"] == "done" and math.isnan(row["mAP"]):
        row["state"], row["reason"] = "incomplete", f"state is done but metrics.json has no final {split} mAP"

    if resolved.get("config_key") and resolved.get("base_key"):  # the resolved run's keys (as its run id)
        row["config_key"], row["base_key"] = str(resolved["config_key"]), str(resolved["base_key"])
        row["_resolved_options"] = dict(resolved.get("options") or {})
    else:  # a record written before resolved.yaml existed: keys of the config as written
        row["config_key"] = _key(flat, UNKEYED_PREFIXES)
        row["base_key"] = _key(flat, (*UNKEYED_PREFIXES, *DISTILLATION_ONLY))
    return row


def _legacy_role(flat: Mapping[str, Any]) -> str:
    """A record without a role field: teacher runs were named ``teacher-...``."""
    return "teacher" if str(flat.get("name", "")).startswith("teacher-") else "student"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except yaml.YAMLError:
        data = None
    return data if isinstance(data, dict) else {}


def load_curves(run_dir: str | Path) -> dict[str, list[dict[str, float]]]:
    """``curves`` of a run's metrics.json: ``{"train": [...], "eval": [...]}`` (empty lists if absent)."""
    metrics = _read_json(Path(run_dir) / "metrics.json") or {}
    curves = metrics.get("curves") or {}
    return {"train": list(curves.get("train") or []), "eval": list(curves.get("eval") or [])}


def teacher_run_dir(run_dir: str | Path) -> Path | None:
    """The record of the run's last-stage teacher run when it lies beside the run (``stages[-1].teacher_run``
    of its ``resolved.yaml``, in the same ``runs/`` folder), else None."""
    stages = _read_yaml(Path(run_dir) / "resolved.yaml").get("stages") or []
    teacher = stages[-1].get("teacher_run") if stages and isinstance(stages[-1], dict) else None
    path = Path(run_dir).parent / str(teacher) if teacher else None
    return path if path is not None and (path / "metrics.json").is_file() else None


def last_eval_map(run_dir: str | Path, split: str) -> float | None:
    """mAP of the run's last ``curves.eval`` row on ``split`` (None without one)."""
    rows = [r for r in load_curves(run_dir)["eval"] if str(r.get("split") or "") == split and "iter" in r]
    value = max(rows, key=lambda r: r["iter"]).get("mAP") if rows else None
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def stage_starts(run_dir: str | Path) -> list[int]:
    """Iterations where a stage after the first begins (``stages[*].start`` of metrics.json; ``[]`` without)."""
    metrics = _read_json(Path(run_dir) / "metrics.json") or {}
    stages = metrics.get("stages") or []
    starts = [s.get("start") for s in stages if isinstance(s, dict)]
    return sorted(int(x) for x in starts if isinstance(x, int) and x > 0)


# ---------------------------------------------------------------------------- many runs


def load_runs(paths: Iterable[str | Path], *, split: str = "test") -> pd.DataFrame:
    """Every run record under ``paths`` (see :func:`find_run_dirs`) as one frame sorted by sweep and run id, with
    the final numbers of ``split`` ("test" | "val") in the metric columns.

    A run id present in several directories (the same content-hashed run found twice) is kept once: the
    copy that is done, else the first in path order.
    """
    rows = []
    plans: dict[Path, dict[str, dict[str, Any]]] = {}
    for out_name, run_dir in find_run_dirs(paths):
        sweep_dir = sweep_dir_of(run_dir)
        if sweep_dir not in plans:
            plans[sweep_dir] = read_plan_entries(sweep_dir)
        entry = plans[sweep_dir].get(run_dir.name, {})
        row = load_run(run_dir, str(entry.get("sweep") or out_name), split=split)
        row["out_dir"] = out_name
        if entry.get("role") and row["role_source"] != "metrics":
            row["role"] = str(entry["role"])
        rows.append(row)
    frame = pd.DataFrame(rows).drop(columns="role_source")
    if "_resolved_options" not in frame.columns:
        frame["_resolved_options"] = None
    frame["_done"] = frame["state"] != "done"
    frame = frame.sort_values(["run_id", "_done", "sweep", "run_dir"], kind="stable")
    frame = frame.drop_duplicates("run_id", keep="first").drop(columns="_done")
    frame = _show_option_values(frame.sort_values(["sweep", "run_id"], kind="stable").reset_index(drop=True))
    return frame.drop(columns="_resolved_options")


def _show_option_values(frame: pd.DataFrame) -> pd.DataFrame:
    """In each ``distill.options.<k>`` column some run set, the value a run that left ``k`` out ran with (an
    ablation's default arm reads α = 3, not –): from its ``resolved.yaml``; for a record written before that
    existed, the method's default in today's code. Grouping keys are not touched."""
    for column in [c for c in frame.columns if c.startswith("distill.options.")]:
        option = column.removeprefix("distill.options.")
        for index in frame.index[frame[column].isna()]:
            resolved, method = frame.at[index, "_resolved_options"], frame.at[index, "method"]
            value = resolved.get(option) if isinstance(resolved, dict) else option_defaults(method).get(option)
            if value is not None:
                frame[column] = frame[column].astype(object)
                frame.at[index, column] = value
    return frame


def done(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["state"] == "done"]


def not_finished(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["state"] != "done"]


def axis_columns(frame: pd.DataFrame) -> list[str]:
    """Config columns that may be swept axes (see ``NON_AXIS_PREFIXES``), plus ``distill.n_stages``."""
    derived = {"distill.n_stages", "teachers"}
    cols = []
    for col in frame.columns:
        if col in derived:
            cols.append(col)
        elif "." in col and col.split(".")[0] in {"data", "model", "train", "distill", "eval"}:
            if col.startswith(NON_AXIS_PREFIXES) or col.startswith("cost.") or col.startswith("best."):
                continue
            if col.startswith("distill.stages.") and ".teacher." in col:
                continue
            if col in ("distill.stages", "distill.teacher"):  # empty/absent leaves: `teachers` holds the chain
                continue
            cols.append(col)
    return sorted(cols)


def varying_axes(frame: pd.DataFrame) -> list[str]:
    """Axis columns with more than one distinct value in ``frame`` (None counts as a value). When the stage
    count varies, the per-stage columns (``distill.stages.<k>.*``) vary with it and are left out."""
    axes = [col for col in axis_columns(frame) if frame[col].map(repr).nunique() > 1]
    if "distill.n_stages" in axes:
        axes = [a for a in axes if not a.startswith("distill.stages.")]
    return axes
