"""The quickstart: a real teacher → student distillation on the NEON tree-crown tiles, minutes on a CPU.

Recipe (measured on 2 CPU threads, /work/shared/reference/data.md "Measured recipe"): teacher Faster R-CNN
MobileNetV2-FPN 256 trained with SGD lr 0.02, linear warm-up over the first quarter, x0.1 at 75 %, batch 2,
horizontal flips; student RetinaNet MobileNetV2-FPN 64 (GroupNorm head) trained with AdamW lr 1e-3 on the
same schedule, alone (``none``) and with each requested method. The teacher run has a fixed seed (0), so
runs with other student seeds reuse it; every run is an ordinary run record under ``<out>/runs/``, reused
when already done. ``sweeps/quickstart/*.yaml`` are the same configs as files (``dfmsd-bench train``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.config import (
    DataConfig,
    DistillConfig,
    ModelConfig,
    RunConfig,
    StageConfig,
    TeacherConfig,
    TrackingConfig,
    TrainConfig,
    teacher_run_config,
)

if TYPE_CHECKING:
    from benchmark.run.metrics import RunMetrics

TEACHER_MODEL = "faster_rcnn_mnv2_fpn256"
STUDENT_MODEL = "retinanet_mnv2_fpn64"
DEFAULT_METHODS = ("none", "mimic", "dfmsd")
DEFAULT_ITERATIONS = 400
TEACHER_SEED = 0
WEAK_TEACHER_MAP = 0.03  # below this a full-length teacher run has failed to learn (it reaches ~0.10)


def _schedule(iterations: int, *, optimizer: str, lr: float) -> TrainConfig:
    return TrainConfig(
        iterations=iterations,
        batch_size=2,
        optimizer=optimizer,
        lr=lr,
        warmup_iters=max(1, round(0.25 * iterations)),
        schedule="step",
        milestones=(0.75,),
        lr_gamma=0.1,
        checkpoint_every=max(1, min(100, iterations)),
        log_every=max(1, min(10, iterations // 4)),
    )


def quickstart_data(max_images: int | None = None) -> DataConfig:
    return DataConfig(dataset="neon", input_size=400, hflip=True, max_images=max_images)


def quickstart_teacher(iterations: int = DEFAULT_ITERATIONS) -> TeacherConfig:
    """The teacher of the quickstart (data.md: SGD lr 0.02, warm-up 100 of 400, x0.1 at 75 %, batch 2)."""
    return TeacherConfig(
        model=ModelConfig(name=TEACHER_MODEL),
        train=_schedule(iterations, optimizer="sgd", lr=0.02),
        seed=TEACHER_SEED,
    )


def quickstart_student(
    method: str,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int = 0,
    max_images: int | None = None,
    wandb: bool = True,
    teacher_cache: str = "auto",
) -> RunConfig:
    """The student run for ``method`` (``none``: no teacher).

    ``dfmsd`` runs stage-wise with the one quickstart teacher (reading S-b of dfmsd/loss.py): the first half
    without masking enhancement (gamma 0), the second half with it (gamma 1). The two-teacher curriculum (S-a)
    needs a second trained teacher and lives in ``sweeps/neon_methods.yaml``.
    """
    teacher = None if method == "none" else quickstart_teacher(iterations)
    stages: tuple[StageConfig, ...] = ()
    if method == "dfmsd":
        stages = tuple(StageConfig(teacher=teacher, fraction=0.5, options={"gamma": gamma}) for gamma in (0.0, 1.0))
        teacher = None
    return RunConfig(
        name=f"quickstart-{method}",
        seed=seed,
        data=quickstart_data(max_images),
        model=ModelConfig(name=STUDENT_MODEL),
        train=_schedule(iterations, optimizer="adamw", lr=1e-3),
        distill=DistillConfig(
            method=method,
            teacher=teacher,
            stages=stages,
            teacher_cache=teacher_cache,
            min_teacher_map=WEAK_TEACHER_MAP if iterations >= DEFAULT_ITERATIONS else None,
        ),
        tracking=TrackingConfig(wandb=wandb, group="quickstart", tags=("quickstart",)),
    )


def quickstart_configs(
    *,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int = 0,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    max_images: int | None = None,
    wandb: bool = True,
    teacher_cache: str = "auto",
) -> tuple[RunConfig, list[RunConfig]]:
    """``(teacher run, student runs)`` in training order."""
    students = [
        quickstart_student(
            m, iterations=iterations, seed=seed, max_images=max_images, wandb=wandb, teacher_cache=teacher_cache
        )
        for m in methods
    ]
    teacher = teacher_run_config(
        quickstart_student("none", iterations=iterations, seed=seed, max_images=max_images, wandb=wandb),
        quickstart_teacher(iterations),
    )
    return teacher, students


@dataclass
class QuickstartResult:
    runs_root: Path
    teacher: tuple[RunConfig, RunMetrics | None]
    students: list[tuple[RunConfig, RunMetrics | None, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.teacher[1] is not None and all(m is not None for _, m, _ in self.students)


def _validate_methods(methods: tuple[str, ...]) -> None:
    from benchmark.distill.methods import METHODS
    from benchmark.errors import UserError

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"--methods: unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS.names())}")
    if "none" not in methods:
        raise UserError("--methods: must include 'none' (the student-alone baseline of the table)")


def run_quickstart(
    out: Path,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int = 0,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    no_wandb: bool = False,
    max_images: int | None = None,
    teacher_cache: str = "auto",
    progress: bool = True,
    echo: Any = print,
    stop: threading.Event | None = None,
) -> QuickstartResult:
    """Prepare data and weights, train (or reuse) the teacher, train each student, evaluate; see module doc.

    ``stop`` (e.g. set by SIGTERM): the current run saves its checkpoint and the quickstart ends; rerun it to
    resume."""
    from benchmark.data import ensure_mobilenet_v2_weights, prepare_neon
    from benchmark.run.record import RunRecord
    from benchmark.run.train import RunFailed, RunStopped, train_run

    _validate_methods(methods)
    runs_root = Path(out) / "runs"
    echo("preparing NEON tiles and ImageNet MobileNetV2 weights (cached after the first time)")
    prepare_neon(progress=progress)
    ensure_mobilenet_v2_weights(progress=progress)
    teacher_cfg, students = quickstart_configs(
        iterations=iterations,
        seed=seed,
        methods=methods,
        max_images=max_images,
        wandb=not no_wandb,
        teacher_cache=teacher_cache,
    )
    tdir = runs_root / teacher_cfg.run_id()
    if RunRecord(tdir).is_done():
        echo(f"teacher {teacher_cfg.run_id()}: done already, reused ({tdir})")
    else:
        echo(f"teacher {teacher_cfg.run_id()}: training {TEACHER_MODEL} for {iterations} iterations")
    try:
        teacher_metrics = train_run(teacher_cfg, tdir, runs_root=runs_root, progress=progress, stop_event=stop)
    except RunFailed as exc:
        echo(f"teacher failed: {exc} (log: {tdir / 'log.txt'})")
        return QuickstartResult(runs_root, (teacher_cfg, None))
    result = QuickstartResult(runs_root, (teacher_cfg, teacher_metrics))
    teacher_map = teacher_metrics.final["mAP"]
    if iterations >= DEFAULT_ITERATIONS and teacher_map < WEAK_TEACHER_MAP:
        echo(
            f"warning: the teacher reached only mAP {teacher_map:.4f} (this recipe gives ~0.10 at 400 iterations): "
            f"distilling from it is meaningless; see {tdir / 'log.txt'} and delete {tdir} to retrain it"
        )
    for cfg in students:
        run_dir = runs_root / cfg.run_id()
        echo(f"student {cfg.run_id()}: {STUDENT_MODEL} with {cfg.distill.method}")
        try:
            metrics = train_run(cfg, run_dir, runs_root=runs_root, progress=progress, stop_event=stop)
            result.students.append((cfg, metrics, None))
        except RunFailed as exc:
            echo(f"student {cfg.distill.method} failed: {exc} (log: {run_dir / 'log.txt'})")
            result.students.append((cfg, None, str(exc)))
            if isinstance(exc, RunStopped):
                break
    return result


def format_table(result: QuickstartResult) -> str:
    """Teacher, student alone, student + each method: mAP, AP50 and the mAP change over the student alone."""
    teacher_cfg, teacher_metrics = result.teacher
    base = next((m for c, m, _ in result.students if c.distill.method == "none" and m), None)
    base_map = base.final["mAP"] if base else None
    rows = [("run", "mAP", "AP50", "Δ mAP", "record")]

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.4f}"

    if teacher_metrics:
        f = teacher_metrics.final
        rows.append((f"teacher {TEACHER_MODEL}", fmt(f["mAP"]), fmt(f["AP50"]), "", teacher_cfg.run_id()))
    for cfg, metrics, error in result.students:
        label = "student alone" if cfg.distill.method == "none" else f"student + {cfg.distill.method}"
        if metrics is None:
            rows.append((label, "failed", "", "", f"{cfg.run_id()}: {error}"))
            continue
        f = metrics.final
        delta = "" if cfg.distill.method == "none" or base_map is None else f"{f['mAP'] - base_map:+.4f}"
        rows.append((label, fmt(f["mAP"]), fmt(f["AP50"]), delta, cfg.run_id()))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"\nrecords: {result.runs_root}/<run id>/ (config.yaml, status.json, metrics.json, log.txt)")
    return "\n".join(lines)
