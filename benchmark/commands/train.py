"""``dfmsd-bench train CONFIG.yaml [key=value ...]``: one run from a YAML run config, into its run record."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.commands import overrides_anywhere
from benchmark.config import ConfigError, RunConfig, run_config_from_dict

if TYPE_CHECKING:
    from benchmark.run.metrics import RunMetrics
    from benchmark.run.resolve import ResolvedRun

DEFAULT_OUT = Path("outputs")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train one run from a YAML run config (resumes or reuses its record)",
        description=(
            "Train the run described by CONFIG (a RunConfig in YAML) with key=value overrides "
            "(e.g. train.iterations=100 distill.method=mimic). The run lives in OUT/runs/<run_id>/; an "
            "interrupted run resumes from its last checkpoint, a finished one is reported, not retrained. "
            "Teacher runs it depends on must be done first (in the same OUT). A run with train.processes=P > 1 "
            "is started as P processes by torch.distributed.run (DDP; gloo on CPU, nccl on GPUs)."
        ),
    )
    parser.add_argument("config", type=Path, help="YAML run config (see sweeps/quickstart/*.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (YAML values)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: ./outputs)")
    parser.add_argument("--no-wandb", action="store_true", help="do not mirror the run to W&B")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    overrides_anywhere(parser)


def load_run_config(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """A :class:`RunConfig` from a YAML file plus ``key=value`` overrides (all problems reported at once)."""
    from benchmark.config.overrides import apply_overrides
    from benchmark.config.yaml_io import load_yaml_file

    raw = load_yaml_file(path, "run config")
    if raw is None:
        raise ConfigError([f"{path}: the run config is empty (an empty file would train every default: write the run)"])
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level, got {type(raw).__name__}"])
    raw.pop("run_id", None)  # a config.yaml copied from a run record
    return run_config_from_dict(apply_overrides(raw, overrides), source=str(path))


def format_metrics(metrics: dict | None) -> str:
    if not metrics:
        return "(no metrics)"
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())


def _train_distributed(run: ResolvedRun, run_dir: Path, runs_root: Path, *, progress: bool) -> RunMetrics:
    """Run ``python -m benchmark.run.train`` on ``train.processes`` processes (torch.distributed.run) and return
    the record's metrics; :class:`RunFailed` with the record's reason when the run did not finish."""
    import subprocess

    from benchmark.run.record import RunRecord
    from benchmark.run.torchrun import launch_command
    from benchmark.run.train import RunFailed

    record = RunRecord(run_dir)
    existing = record.read_config()
    if existing is not None and existing.get("run_id") != run.run_id:
        raise ConfigError([f"{record.config_path}: holds run {existing.get('run_id')}, not {run.run_id}"])
    record.write_config(run)
    cmd = [*launch_command(run.config.train.processes, "benchmark.run.train"), "--run-dir", str(run_dir)]
    cmd += ["--runs-root", str(runs_root), *([] if progress else ["--no-progress"])]
    rc = subprocess.call(cmd)
    metrics = record.read_metrics()
    if rc != 0 or not record.is_done() or metrics is None:
        reason = (record.read_status() or {}).get("reason") or f"torch.distributed.run exited with status {rc}"
        raise RunFailed(reason)
    return metrics


def run(args: argparse.Namespace) -> int:
    from benchmark.errors import UserError
    from benchmark.run.distributed import env_world_size
    from benchmark.run.train import RunBusy, RunFailed, RunStopped, sigterm_event, train_run
    from benchmark.run.validate import check, teacher_problems

    overrides = [*args.overrides, *(["tracking.wandb=false"] if args.no_wandb else [])]
    cfg = load_run_config(args.config, overrides)
    runs_root = args.out / "runs"
    resolved = check(cfg, str(args.config))
    found = teacher_problems(resolved, runs_root)
    if found:
        raise ConfigError([f"{args.config}: {key}: {message}" for key, message in found])
    run_dir = runs_root / resolved.run_id
    print(f"run {resolved.run_id} -> {run_dir}")
    try:
        if cfg.train.processes > 1 and env_world_size() == 1:
            metrics = _train_distributed(resolved, run_dir, runs_root, progress=not args.no_progress)
        else:
            stop = sigterm_event()
            metrics = train_run(resolved, run_dir, runs_root=runs_root, progress=not args.no_progress, stop_event=stop)
    except RunBusy as exc:
        raise UserError(str(exc)) from None
    except RunStopped as exc:
        print(f"stopped: {exc}")
        return 143
    except RunFailed as exc:
        print(f"failed: {exc} (log: {run_dir / 'log.txt'})")
        return 1
    print(f"done: {run_dir}")
    print(f"student: {format_metrics(metrics.final)}")
    if metrics.final_val:
        print(f"student (val): {format_metrics(metrics.final_val)}")
    if metrics.teacher_final:
        print(f"teacher: {format_metrics(metrics.teacher_final)}")
    return 0
