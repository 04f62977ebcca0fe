"""The quickstart: a short demo of teacher → student distillation on the NEON tree-crown tiles, minutes on a CPU.

Recipes (the rule, docs/protocol.md): the teacher, Faster R-CNN MobileNetV2-FPN 256, trains with SGD at the
*linear-scaling* learning rate of mmdetection's two-stage reference (0.02 per 16 images, so ``TEACHER_LR`` =
0.0025 at batch 2; the 0.02 of earlier versions is 8x that and diverged on some machines), momentum 0.9, linear
warm-up over the first quarter, x0.1 at 75 %, gradient clipping at 35, batch 2, horizontal flips; the student,
RetinaNet MobileNetV2-FPN 64 (GroupNorm head), trains with AdamW lr 1e-3 on the same schedule, alone (``none``)
and with each requested method. The teacher gate (``distill.min_teacher_map`` = ``WEAK_TEACHER_MAP`` at the
full length) stops the quickstart with what to do when the teacher did not learn; it never prints a
distillation table from a broken teacher. The teacher run has a fixed seed (0), so runs with other student seeds
reuse it; every run is an ordinary run record under ``<out>/runs/``, reused when already done.
``sweeps/quickstart/*.yaml`` are the same configs as files (``dfmsd-bench train``). 400 iterations do not
converge the student: this is a demo; the converged protocol that can rank methods is
``sweeps/neon_converged.yaml``.
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
from benchmark.run.resolve import run_id

if TYPE_CHECKING:
    from benchmark.run.metrics import RunMetrics

TEACHER_MODEL = "faster_rcnn_mnv2_fpn256"
STUDENT_MODEL = "retinanet_mnv2_fpn64"
DEFAULT_METHODS = ("none", "mimic", "dfmsd")
DEFAULT_ITERATIONS = 400
TEACHER_SEED = 0
BATCH = 2
TEACHER_LR = 0.02 * BATCH / 16  # mmdet's two-stage reference LR (0.02 per 16 images), linearly scaled
STUDENT_LR = 1e-3  # AdamW
WEAK_TEACHER_MAP = 0.03  # teacher gate: a full-length teacher below this test mAP did not learn


def _schedule(iterations: int, *, optimizer: str, lr: float) -> TrainConfig:
    return TrainConfig(
        iterations=iterations,
        batch_size=BATCH,
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
    """The teacher of the quickstart (SGD at ``TEACHER_LR``, warm-up a quarter, x0.1 at 75 %, batch 2)."""
    return TeacherConfig(
        model=ModelConfig(name=TEACHER_MODEL),
        train=_schedule(iterations, optimizer="sgd", lr=TEACHER_LR),
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
        train=_schedule(iterations, optimizer="adamw", lr=STUDENT_LR),
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
    teacher_rejected: str | None = None  # the teacher gate's message: no student was trained
    stopped: bool = False  # stopped by a signal: rerun to resume

    @property
    def ok(self) -> bool:
        return (
            self.teacher[1] is not None
            and self.teacher_rejected is None
            and all(m is not None for _, m, _ in self.students)
        )


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
    from benchmark.run.failures import TeacherRejected
    from benchmark.run.record import RunRecord
    from benchmark.run.train import RunFailed, RunStopped, train_run
    from benchmark.run.validate import check, teacher_problems

    _validate_methods(methods)
    runs_root = Path(out) / "runs"
    teacher_cfg, students = quickstart_configs(
        iterations=iterations,
        seed=seed,
        methods=methods,
        max_images=max_images,
        wandb=not no_wandb,
        teacher_cache=teacher_cache,
    )
    teacher_run = check(teacher_cfg, "quickstart teacher")
    student_runs = [check(cfg, f"quickstart student {cfg.distill.method}") for cfg in students]
    echo("preparing NEON tiles and ImageNet MobileNetV2 weights (cached after the first time)")
    prepare_neon(progress=progress)
    ensure_mobilenet_v2_weights(progress=progress)
    tdir = runs_root / teacher_run.run_id
    if RunRecord(tdir).is_done():
        echo(f"teacher {teacher_run.run_id}: done already, reused ({tdir})")
    else:
        echo(f"teacher {teacher_run.run_id}: training {TEACHER_MODEL} for {iterations} iterations")
    try:
        teacher_metrics = train_run(teacher_run, tdir, runs_root=runs_root, progress=progress, stop_event=stop)
    except RunFailed as exc:
        echo(f"teacher failed: {exc} (log: {tdir / 'log.txt'})")
        return QuickstartResult(runs_root, (teacher_cfg, None), stopped=isinstance(exc, RunStopped))
    result = QuickstartResult(runs_root, (teacher_cfg, teacher_metrics))
    gate = next((p for r in student_runs for _, p in teacher_problems(r, runs_root)), None)
    if gate is not None:  # the teacher gate: no distillation table from a teacher that did not learn
        result.teacher_rejected = (
            f"{gate}. This recipe's teacher reached test mAP 0.065-0.090 at {DEFAULT_ITERATIONS} iterations in "
            f"16 runs (docs/stability.md). Look at {tdir / 'log.txt'} (a diverging loss is stopped by the divergence "
            f"guard), then delete {tdir} and run dfmsd-bench quickstart again to retrain it."
        )
        return result
    for run in student_runs:
        run_dir = runs_root / run.run_id
        echo(f"student {run.run_id}: {STUDENT_MODEL} with {run.method}")
        try:
            metrics = train_run(run, run_dir, runs_root=runs_root, progress=progress, stop_event=stop)
            result.students.append((run.config, metrics, None))
        except TeacherRejected as exc:  # a teacher changed under us: same stop as above
            result.teacher_rejected = str(exc)
            return result
        except RunFailed as exc:
            echo(f"student {run.method} failed: {exc} (log: {run_dir / 'log.txt'})")
            result.students.append((run.config, None, str(exc)))
            if isinstance(exc, RunStopped):
                result.stopped = True
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
        rows.append((f"teacher {TEACHER_MODEL}", fmt(f["mAP"]), fmt(f["AP50"]), "", run_id(teacher_cfg)))
    for cfg, metrics, error in result.students:
        label = "student alone" if cfg.distill.method == "none" else f"student + {cfg.distill.method}"
        if metrics is None:
            rows.append((label, "failed", "", "", f"{run_id(cfg)}: {error}"))
            continue
        f = metrics.final
        delta = "" if cfg.distill.method == "none" or base_map is None else f"{f['mAP'] - base_map:+.4f}"
        rows.append((label, fmt(f["mAP"]), fmt(f["AP50"]), delta, run_id(cfg)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    iterations = teacher_cfg.train.iterations
    lines.insert(
        0,
        f"quickstart (a short demo: {iterations} iterations per run, NEON test tiles, COCO mAP; the "
        "student alone is not converged, see sweeps/neon_converged.yaml for the protocol that ranks methods)",
    )
    kd = [(c.distill.method, m.final["mAP"]) for c, m, _ in result.students if m and c.distill.method != "none"]
    if base_map is not None and kd:
        below = [name for name, value in kd if value <= base_map]
        lines.append(
            "\nevery distillation row is above the student alone"
            if not below
            else f"\nnot above the student alone: {', '.join(below)}"
        )
    files = "config.yaml, resolved.yaml, status.json, metrics.json, log.txt"
    lines.append(f"\nrecords: {result.runs_root}/<run id>/ ({files})")
    return "\n".join(lines)
