"""Synthetic run records in the format of docs/record-format.md, with chosen metric values."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from benchmark.config import ModelConfig, RunConfig, StageConfig, TeacherConfig, run_config_from_dict, to_plain
from benchmark.run.metrics import Cost, RunMetrics
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id

METRIC_OFFSETS = {"mAP": 0.0, "AP50": 0.2, "AP75": 0.05, "APs": -0.1, "APm": 0.0, "APl": 0.1}


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (the scripts are not a package)."""
    path = Path(__file__).resolve().parents[2] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_config(
    *,
    model: str = "retina_s",
    method: str = "none",
    seed: int = 0,
    teacher: str | None = None,
    stages: list[str] | None = None,
    options: dict[str, Any] | None = None,
    iterations: int = 40,
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    cfg = RunConfig().to_dict()
    cfg["name"] = f"{model}-{method}"
    cfg["seed"] = seed
    cfg["model"]["name"] = model
    cfg["train"]["iterations"] = iterations
    cfg["tracking"]["tags"] = list(tags)
    cfg["distill"]["method"] = method
    cfg["distill"]["options"] = dict(options or {})
    if teacher is not None:
        cfg["distill"]["teacher"] = to_plain(TeacherConfig(model=ModelConfig(name=teacher)))
    if stages:
        cfg["distill"]["stages"] = [
            to_plain(StageConfig(teacher=TeacherConfig(model=ModelConfig(name=t)), fraction=1 / len(stages)))
            for t in stages
        ]
    return cfg


def write_run(
    sweep_dir: Path,
    cfg: dict[str, Any],
    *,
    mAP: float | None = None,
    val_mAP: float | None = None,
    teacher_mAP: float | None = None,
    state: str = "done",
    reason: str | None = None,
    step_time: float = 0.1,
    curves: dict[str, list[dict[str, float]]] | None = None,
) -> Path:
    """One run directory; metrics are ``mAP`` plus fixed offsets (AP50 = mAP + 0.2, ...); ``val_mAP`` gives the
    run validation numbers (``final_val``) the same way."""
    rid = run_id(run_config_from_dict(cfg))
    run_dir = sweep_dir / "runs" / rid
    run_dir.mkdir(parents=True)
    RunRecord(run_dir).write_config(run_config_from_dict(cfg))  # config.yaml and resolved.yaml, as the trainer
    status = {"state": state, "reason": reason, "iteration": 40 if state == "done" else 12, "total_iterations": 40}
    (run_dir / "status.json").write_text(json.dumps(status))
    if mAP is not None:
        final = {k: mAP + off for k, off in METRIC_OFFSETS.items()}
        teacher_final = {k: teacher_mAP + off for k, off in METRIC_OFFSETS.items()} if teacher_mAP else None
        metrics = RunMetrics(
            run_id=rid,
            role="student",
            method=cfg["distill"]["method"],
            final=final,
            final_val={k: val_mAP + off for k, off in METRIC_OFFSETS.items()} if val_mAP is not None else None,
            teacher_final=teacher_final,
            curves=curves or {"train": [], "eval": []},
            cost=Cost(
                params=2_500_000,
                flops=1.5e9,
                flops_input=[128, 128],
                train_time_s=4.0,
                step_time_s=step_time,
                infer_time_s=0.02,
            ),
            best={"mAP": mAP, "iter": 40, "split": "test"},
        )
        (run_dir / "metrics.json").write_text(json.dumps(metrics.to_dict()))
    return run_dir


def make_curves(seed: int, method: str, final_map: float) -> dict[str, list[dict[str, float]]]:
    """Decreasing losses over 4 logged iterations (a KD term on two levels for distilled runs)."""
    train = []
    for it in (10, 20, 30, 40):
        entry = {
            "iter": it,
            "lr": 0.01,
            "time_s": 0.1 * it,
            "loss_classifier": 1.0 / it + 0.01 * seed,
            "loss_box_reg": 0.5 / it,
        }
        if method != "none":
            entry.update({"kd/rec/p3": 0.2 / it, "kd/rec/p4": 0.1 / it})
            entry["kd"] = 0.3 / it
        entry["loss"] = sum(v for k, v in entry.items() if k.startswith("loss_")) + entry.get("kd", 0.0)
        train.append(entry)
    evals = [{"iter": 20, "mAP": final_map / 2}, {"iter": 40, "mAP": final_map}]
    return {"train": train, "eval": evals}


def comparison_sweep(root: Path) -> Path:
    """Pair T→S with three seeds: none (0.30, 0.32, 0.34), fgd (+0.02 each), dfmsd (+0.03, +0.05, +0.04);
    one failed dfmsd seed and one running mgd run."""
    sweep = root / "cmp"
    alone = {0: 0.30, 1: 0.32, 2: 0.34}
    for seed, v in alone.items():
        gain = {0: 0.03, 1: 0.05, 2: 0.04}[seed]
        write_run(sweep, make_config(seed=seed), mAP=v, step_time=0.1, curves=make_curves(seed, "none", v))
        write_run(
            sweep,
            make_config(seed=seed, method="fgd", teacher="teacher_t"),
            mAP=v + 0.02,
            teacher_mAP=0.5,
            step_time=0.15,
            curves=make_curves(seed, "fgd", v + 0.02),
        )
        write_run(
            sweep,
            make_config(seed=seed, method="dfmsd", teacher="teacher_t"),
            mAP=v + gain,
            teacher_mAP=0.5,
            step_time=0.2,
            curves=make_curves(seed, "dfmsd", v + gain),
        )
    write_run(
        sweep, make_config(seed=3, method="dfmsd", teacher="teacher_t"), state="failed", reason="CUDA out of memory"
    )
    write_run(sweep, make_config(seed=0, method="mgd", teacher="teacher_t"), state="running")
    return sweep


@pytest.fixture
def cmp_sweep(tmp_path: Path) -> Path:
    return comparison_sweep(tmp_path)


@pytest.fixture
def rec() -> SimpleNamespace:
    """The record builders of this module, for tests that write their own record sets."""
    return SimpleNamespace(make_config=make_config, write_run=write_run, make_curves=make_curves)
