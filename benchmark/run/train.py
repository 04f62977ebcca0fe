"""One run: data → frozen teacher(s) → student + distillation criteria → COCO evaluation → run record.

``train_run(run, run_dir)`` trains the resolved run ``run`` (:mod:`benchmark.run.resolve`) into ``run_dir``
(format: docs/record-format.md); ``python -m benchmark.run.train --run-dir DIR`` validates and trains the
config.yaml in DIR and exits 0 iff the run is done, 2 on a config problem (what the sweep executors call, one
subprocess per run).

What a step does: the batch stream (one seeded CPU generator) picks images and flips (data workers load them
with ``train.num_workers > 0``, :mod:`benchmark.run.loader`); the teacher of the
current stage computes its FPN features once, under ``no_grad``, on the same batch; the student's training
forward yields its detection losses and, from a hook, its FPN features (no second pass); the
:class:`~benchmark.distill.loss.DistillLoss` adds ``kd/<term>/<level>`` terms; one backward, optional gradient
clipping, one optimiser step; the divergence guard (:mod:`benchmark.run.guard`) judges the loss. The learning
rate is a function of the iteration (:mod:`benchmark.run.optim`), so one schedule spans all stages. With
``eval.every`` the student is evaluated during training (validation split if any, else test; the time is kept
out of the step times) and the curve is kept in metrics.json; at the end it is evaluated on the validation split
(if any) and on the test split. Every stage's teacher passes the teacher gate (:mod:`benchmark.run.build`).

Stage-wise runs (DFMSD's S-a → S-b): stage k owns a fraction of the iterations (:mod:`benchmark.run.stages`).
At a boundary the trainer writes ``stage<k>_end.pt``, loads the next teacher (unless it is the same
teacher config), rebuilds the criteria with the stage's options (carrying over the old criteria's
matching parameters when ``reinit_on_switch`` is false) and swaps the optimiser's criterion group; the
student's optimiser state is kept.

Multi-process runs (``train.processes > 1``, :mod:`benchmark.run.distributed`): every rank trains on its shard
of each global batch, the student and the criteria are one ``DistributedDataParallel`` module
(:class:`StudentStep`), only rank 0 writes the record, checkpoints and W&B, and evaluation is gathered.

Resume: when ``checkpoints/last.pt`` exists the run continues from it: model, criteria, optimiser, the
batch stream, every RNG, timings and curves, and the stage it was in. On CPU an interrupted and resumed
run ends with the same weights, bit for bit, as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import filelock
import torch
from torch import Tensor, nn
from tqdm import tqdm

from benchmark.atomic import DiskFull, atomic_torch_save
from benchmark.cache import LiveTeacher, default_cache_root, teacher_source
from benchmark.checkpoints import CheckpointError, load_torch_file
from benchmark.config import ConfigError, RunConfig
from benchmark.data.coco import Batch
from benchmark.precision import autocast, grad_scaler
from benchmark.run.batches import BatchStream
from benchmark.run.build import build_criterion, build_teacher, teacher_weights, to_device
from benchmark.run.distributed import SINGLE, DistContext, env_world_size, init_distributed
from benchmark.run.env import collect_env
from benchmark.run.evaluate import evaluate
from benchmark.run.failures import NonFiniteLoss, RunBusy, RunFailed, RunStopped
from benchmark.run.guard import DivergenceGuard
from benchmark.run.loader import TrainBatches
from benchmark.run.metrics import METRIC_NAMES, Cost, RunMetrics
from benchmark.run.optim import build_optimizer, replace_criterion_group, set_lr
from benchmark.run.record import RankRecord, RunRecord, one_line
from benchmark.run.resolve import ResolvedRun, ResolvedStage
from benchmark.run.rng import capture_global_rng, make_generator, restore_global_rng, seed_everything
from benchmark.run.tracking import Tracker, prefixed
from benchmark.run.validate import check

CHECKPOINT_VERSION = 1
__all__ = ["NonFiniteLoss", "RunBusy", "RunFailed", "RunStopped", "Trainer", "train_run"]


# ---------------------------------------------------------------------------- helpers


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError([f"train.device: {name!r} requested but CUDA is not available"])
    return device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _as_resolved(run: ResolvedRun | RunConfig, source: str) -> ResolvedRun:
    """A ResolvedRun as given (validated at the boundary), else validate and resolve the config here."""
    return run if isinstance(run, ResolvedRun) else check(run, source)


# ---------------------------------------------------------------------------- the trainer


class StudentStep(nn.Module):
    """The student's training forward and the distillation criteria as one module: what DDP wraps, so the
    gradients of both (the criteria's generators and adapters included) are averaged over ranks."""

    def __init__(self, student: nn.Module, criterion: nn.Module | None) -> None:
        super().__init__()
        self.student = student
        self.criterion = criterion

    def forward(
        self,
        images: list[Tensor],
        targets: list[dict[str, Tensor]],
        teacher_features: Any,
        generator: torch.Generator,
    ) -> dict[str, Tensor]:
        """Detection losses and ``kd/<term>/<level>`` terms (the latter only with a teacher)."""
        losses, feats_s = self.student.forward_train(images, targets)
        losses = dict(losses)
        if self.criterion is not None:
            boxes = [t["boxes"] for t in targets]
            losses.update(
                self.criterion(feats_s.features, teacher_features, boxes, feats_s.img_metas, generator=generator)
            )
        return losses


class Trainer:
    """The state of one run while it trains (student, current stage's teacher and criteria, optimiser).

    ``run``: the resolved run (validated at the boundary), or a config, validated here; ``stage``: the stage to
    build first (a resume)."""

    def __init__(
        self,
        run: ResolvedRun | RunConfig,
        record: RunRecord,
        *,
        runs_root: Path,
        stage: int = 0,
        progress: bool = True,
        dist: DistContext = SINGLE,
        device: torch.device | None = None,
    ) -> None:
        from benchmark.data import build_dataset
        from benchmark.zoo import build_detector

        run = _as_resolved(run, str(record.config_path))
        cfg = run.config
        self.run = run
        self.cfg = cfg
        self.record = record
        self.runs_root = runs_root
        self.progress = progress
        self.log = record.log
        self.dist = dist
        self.device = device if device is not None else resolve_device(cfg.train.device)
        torch.set_num_threads(cfg.train.num_threads)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = cfg.train.cudnn_benchmark
        self.memory_format = torch.channels_last if cfg.train.channels_last else torch.preserve_format
        seed_everything(cfg.seed)

        self.train_set = build_dataset(cfg.data, "train", progress=progress)
        student = build_detector(cfg.model, num_classes=self.train_set.num_classes)
        self.student = student.to(self.device, memory_format=self.memory_format)
        self.student.train()
        self.scaler = grad_scaler(cfg.train.amp, self.device)
        self.stream = BatchStream(
            len(self.train_set),
            cfg.train.batch_size,
            hflip=cfg.data.hflip,
            generator=make_generator(cfg.seed, "data"),
            groups=self.train_set.aspect_groups() if cfg.data.protocol == "mmdet" else None,
        )
        self.batches = TrainBatches(
            self.train_set,
            self.stream,
            dist=dist,
            workers=cfg.train.num_workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=cfg.train.prefetch_factor,
        )
        self.kd_generator = make_generator(cfg.seed, "distill" if dist.is_main else f"distill/rank{dist.rank}")
        self.guard = DivergenceGuard(cfg.train.diverge_factor, cfg.train.diverge_window)

        self.stage = 0
        self.teacher: Any = None
        self.teacher_key: tuple[Any, ...] | None = None
        self.teacher_run_id: str | None = None
        self.criterion: Any = None
        if run.stages:
            self._load_stage(stage, previous_criterion=None)
        self.optimizer = build_optimizer(self.student, self.criterion, cfg.train)
        self.step_module = self._step_module()

        self.iteration = 0
        self.curves: dict[str, list[dict[str, Any]]] = {"train": [], "eval": []}
        self.step_times: list[float] = []
        self.teacher_times: list[float] = []
        self.train_time_s = 0.0
        self.eval_time_s = 0.0
        self.eval_sets: dict[str, Any] = {}  # evaluation datasets by split, built on first use
        self.window: dict[str, float] = {}  # sums of the loss values since the last curve row
        self.window_count = 0

    # stages
    def _load_stage(self, k: int, *, previous_criterion: Any) -> None:
        """Teacher and criteria of stage ``k`` (the teacher is reused when its config is unchanged)."""
        stage = self.run.stages[k]
        key = (stage.teacher_run, stage.teacher.checkpoint, stage.teacher.model.name)
        if self.teacher is None or key != self.teacher_key:
            path = teacher_weights(stage, self.runs_root, min_map=self.cfg.distill.min_teacher_map)
            teacher = build_teacher(stage, path, num_classes=self.train_set.num_classes, device=self.device)
            self.teacher = teacher.to(memory_format=self.memory_format)
            self.teacher_key, self.teacher_run_id = key, stage.teacher_run
            self.log(f"stage {k}: teacher {stage.teacher.model.name} from {path}")
            if not self.dist.is_main:
                self.dist.barrier()  # rank 0 builds (or verifies) the teacher cache first
            self.teacher_source = teacher_source(
                self.teacher,
                cfg=self.cfg,
                teacher_model=dataclasses.replace(stage.teacher.model, checkpoint=str(path)),
                weights=path,
                dataset=self.train_set,
                cache_root=default_cache_root(self.runs_root),
                log=self.log,
                progress=self.progress,
            )
            if self.dist.is_main:
                self.dist.barrier()
        criterion = build_criterion(self.run, stage, self.student.card, self.teacher.card)
        criterion = criterion.to(self.device, memory_format=self.memory_format)
        if previous_criterion is not None and not self.cfg.distill.reinit_on_switch:
            old = previous_criterion.state_dict()
            new = criterion.state_dict()
            carried = {n: v for n, v in old.items() if n in new and new[n].shape == v.shape}
            criterion.load_state_dict(carried, strict=False)
            self.log(f"stage {k}: carried {len(carried)}/{len(new)} criterion tensors over from stage {k - 1}")
        self.criterion = criterion
        self.stage = k
        self.log(f"stage {k}: method {self.run.method} options {dict(stage.options)}")

    def switch_stage(self, k: int) -> None:
        self._load_stage(k, previous_criterion=self.criterion)
        replace_criterion_group(self.optimizer, self.criterion)
        self.step_module = self._step_module()
        self.guard.restart()  # the new stage's loss is not judged against the last stage's

    def _step_module(self) -> nn.Module:
        """:class:`StudentStep` over the student and the current criteria; DDP-wrapped with several ranks."""
        module = StudentStep(self.student, self.criterion)
        if not self.dist.enabled:
            return module
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        # find_unused_parameters: a criterion option may leave a learnable part out of the loss (e.g. fixed fusion)
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=True)

    # checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "run_id": self.run.run_id,
            "iteration": self.iteration,
            "stage": self.stage,
            "model": self.student.state_dict(),
            "criterion": self.criterion.state_dict() if self.criterion is not None else {},
            "optimizer": self.optimizer.state_dict(),
            "stream": self.batches.state_dict(),
            "kd_generator": self.kd_generator.get_state(),
            "rng": capture_global_rng(),
            "world_size": self.dist.world_size,
            "ranks": self._rank_states(),
            "curves": self.curves,
            "step_times": self.step_times,
            "teacher_times": self.teacher_times,
            "train_time_s": self.train_time_s,
            "eval_time_s": self.eval_time_s,
            "window": dict(self.window),
            "window_count": self.window_count,
            "guard": self.guard.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def _rank_states(self) -> list[dict[str, Any]]:
        """Every rank's random states, gathered (a collective with several ranks; empty with one)."""
        if not self.dist.enabled:
            return []
        buf = io.BytesIO()  # gathered as torch.save bytes: all_gather_object cannot unpickle tensors here
        torch.save({"kd_generator": self.kd_generator.get_state(), "rng": capture_global_rng()}, buf)
        return [torch.load(io.BytesIO(blob), weights_only=True) for blob in self.dist.gather(buf.getvalue())]

    def load_state_dict(self, state: Mapping[str, Any], source: Path) -> None:
        if state.get("version") != CHECKPOINT_VERSION or state.get("run_id") != self.run.run_id:
            raise RunFailed(
                f"{source} belongs to run {state.get('run_id')} (format {state.get('version')}), "
                f"not {self.run.run_id}: move it away to start over"
            )
        if int(state["stage"]) != self.stage:
            raise RunFailed(f"{source}: saved in stage {state['stage']}, trainer built for stage {self.stage}")
        if int(state.get("world_size", 1)) != self.dist.world_size:
            raise RunFailed(
                f"{source}: saved by {state.get('world_size', 1)} processes, resumed with {self.dist.world_size}"
            )
        mine = state["ranks"][self.dist.rank] if self.dist.enabled else state
        self.student.load_state_dict(state["model"])
        if self.criterion is not None:
            self.criterion.load_state_dict(state["criterion"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.batches.load_state_dict(state["stream"])
        self.kd_generator.set_state(mine["kd_generator"])
        restore_global_rng(mine["rng"])
        self.iteration = int(state["iteration"])
        self.curves = {k: list(v) for k, v in state["curves"].items()}
        self.step_times = list(state["step_times"])
        self.teacher_times = list(state["teacher_times"])
        self.train_time_s = float(state["train_time_s"])
        self.eval_time_s = float(state.get("eval_time_s", 0.0))
        self.window = dict(state["window"])
        self.window_count = int(state["window_count"])
        if "guard" in state:  # checkpoints written before the guard start it afresh
            self.guard.load_state_dict(state["guard"])
        if state.get("scaler"):  # fp16 only (a disabled scaler has no state)
            self.scaler.load_state_dict(state["scaler"])

    def save(self, path: Path) -> None:
        """Write the checkpoint (rank 0 only; every rank must call it: the random states are gathered)."""
        state = self.state_dict()
        if self.dist.is_main:
            atomic_torch_save(state, path)

    # one step
    def sample_batch(self) -> Batch:
        """This rank's share of the next global training batch (the stream's images and flips), on the CPU
        (loaded by the data workers with ``train.num_workers > 0``)."""
        return self.batches.next()

    def next_batch(self) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
        """The next training batch, on the device."""
        return to_device(self.sample_batch(), self.device)

    def step(self) -> dict[str, float]:
        """One training iteration on the next batch, timed (data loading included)."""
        t0 = time.perf_counter()
        batch = self.sample_batch()
        values = self.train_step(*to_device(batch, self.device), batch=batch)
        _sync(self.device)
        self.step_times.append(time.perf_counter() - t0)
        return values

    def train_step(
        self, images: list[Tensor], targets: list[dict[str, Tensor]], *, batch: Batch | None = None
    ) -> dict[str, float]:
        """Teacher features (no grad), student losses + features, distillation terms, backward, clip, step.

        ``batch``: the CPU batch of ``images`` (its image ids and flips key the teacher-feature cache);
        without it the teacher runs live.

        Returns the float value of every loss term, ``loss`` (total), ``kd`` (sum of the kd terms), ``lr``.
        """
        cfg = self.cfg
        lr = set_lr(self.optimizer, self.iteration, cfg.train)
        feats_t = None
        if self.teacher is not None:
            _sync(self.device)
            t_teacher = time.perf_counter()
            source = self.teacher_source if batch is not None else LiveTeacher(self.teacher, amp=cfg.train.amp)
            feats_t = source.features(batch, images)
            _sync(self.device)
            self.teacher_times.append(time.perf_counter() - t_teacher)
        with autocast(cfg.train.amp, self.device):  # the distillation terms are float32 (DistillLoss)
            losses = self.step_module(images, targets, None if feats_t is None else feats_t.features, self.kd_generator)
        kd_names = [n for n in losses if n.startswith("kd/")]
        total = torch.stack([v.float() for v in losses.values()]).sum()
        # the logged values are means over ranks (a non-finite term on any rank stops every rank)
        values = self.dist.mean(torch.stack([total.detach()] + [v.detach().float() for v in losses.values()])).tolist()
        if not math.isfinite(values[0]):
            bad = [n for n, v in zip(losses, values[1:]) if not math.isfinite(v)] or ["loss"]
            raise NonFiniteLoss(f"non-finite loss at iteration {self.iteration + 1} (term {', '.join(bad)})")
        self.guard.observe(self.iteration + 1, values[0])
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()  # the scaler is a pass-through unless train.amp is fp16
        if cfg.train.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.iteration += 1
        out = dict(zip(losses, values[1:]))
        out["loss"] = values[0]
        out["kd"] = sum(out[n] for n in kd_names)
        out["lr"] = lr
        return out


# ---------------------------------------------------------------------------- the run


def _metrics(run: ResolvedRun, trainer: Trainer | None, **fields: Any) -> RunMetrics:
    """The run's :class:`RunMetrics` as of now (``fields``: final values, set at the end)."""
    card = trainer.student.card if trainer else None
    cost = Cost()
    if card is not None:
        cost = Cost(params=card.params, flops=_finite_or_none(card.flops), flops_input=list(card.flops_input))
    if trainer is not None:
        cost.train_time_s = trainer.train_time_s
        cost.step_time_s = _median(trainer.step_times)
        cost.teacher_time_s = _median(trainer.teacher_times)
        cost.eval_time_s = trainer.eval_time_s
    cost.infer_time_s = fields.pop("infer_time_s", None)
    return RunMetrics(
        run_id=run.run_id,
        role=run.role,
        method=run.method,
        curves=trainer.curves if trainer else {"train": [], "eval": []},
        cost=cost,
        stages=[_stage_record(st, trainer) for st in run.stages],
        stability=trainer.guard.stats if trainer else RunMetrics.__dataclass_fields__["stability"].default_factory(),
        **fields,
    )


def _stage_record(stage: ResolvedStage, trainer: Trainer | None) -> dict[str, Any]:
    """A resolved stage as metrics.json keeps it, with the sha256 of its teacher run's final weights (null for an
    explicit checkpoint): which teacher a student distilled, checkable against a teacher retrained elsewhere."""
    record = stage.to_dict()
    if trainer is not None and stage.teacher_run:
        teacher = RunRecord(trainer.runs_root / stage.teacher_run).read_metrics()
        record["teacher_weights_sha256"] = None if teacher is None else teacher.weights_sha256
    return record


def _teacher_final(trainer: Trainer, split: str, progress: bool) -> dict[str, float]:
    """The last-stage teacher's metrics on ``split``: from its run record if it has them, else evaluated here."""
    if trainer.teacher_run_id is not None:
        metrics = RunRecord(trainer.runs_root / trainer.teacher_run_id).read_metrics()
        recorded = None if metrics is None else (metrics.final_val if split == "val" else metrics.final)
        if recorded:
            return recorded
    return _evaluate_split(trainer, split, progress, model=trainer.teacher)[0]


def train_run(
    run: ResolvedRun | RunConfig,
    run_dir: Path,
    *,
    runs_root: Path | None = None,
    progress: bool = True,
    no_wandb: bool = False,
    stop_after: int | None = None,
    stop_event: threading.Event | None = None,
) -> RunMetrics:
    """Train (or resume, or return if done) ``run`` in ``run_dir``; returns its metrics.

    ``run``: a resolved run (validated by :func:`benchmark.run.validate.check`), or a config, validated here
    (:class:`ConfigError` before anything is written). ``runs_root`` holds the teacher runs (default:
    ``run_dir``'s parent). ``stop_after`` / ``stop_event`` stop the run after that iteration / at the next
    iteration once set, saving ``last.pt`` first (:class:`RunStopped`). Failures are recorded in status.json and
    raised as :class:`RunFailed`.
    """
    run_dir = Path(run_dir)
    run = _as_resolved(run, str(run_dir / "config.yaml"))
    runs_root = Path(runs_root) if runs_root is not None else run_dir.parent
    record = RunRecord(run_dir)
    existing = record.read_config()
    if existing is not None and existing.get("run_id") not in (None, run.run_id):
        raise ConfigError([f"{record.config_path}: holds run {existing.get('run_id')}, not {run.run_id}"])
    dist, device = init_distributed(run.config.train.processes, resolve_device(run.config.train.device))
    try:
        if not dist.is_main:
            return _follow(run, run_dir, runs_root, dist, device, stop_after, stop_event)
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(run_dir / ".lock"))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            dist.broadcast("busy")
            raise RunBusy(f"run {run.run_id} is already running (lock {run_dir / '.lock'} is held)") from None
        try:
            done = record.read_metrics() if record.is_done() else None
            if done is not None:
                dist.broadcast("done")
                record.log("already done: nothing to do")
                return done
            dist.broadcast("train")
            return _train_locked(run, record, runs_root, progress, no_wandb, stop_after, stop_event, dist, device)
        finally:
            lock.release()
    finally:
        dist.close()


def _follow(
    run: ResolvedRun,
    run_dir: Path,
    runs_root: Path,
    dist: DistContext,
    device: torch.device,
    stop_after: int | None,
    stop_event: threading.Event | None,
) -> RunMetrics:
    """A rank other than 0: do what rank 0 decided (train, or nothing); it writes only ``log.rank<r>.txt``."""
    decision = dist.broadcast(None)
    if decision == "busy":
        raise RunBusy(f"run {run.run_id} is already running (lock {run_dir / '.lock'} is held)")
    record = RankRecord(run_dir, dist.rank)
    if decision == "done":
        return record.read_metrics() or _metrics(run, None)
    return _train_locked(run, record, runs_root, False, True, stop_after, stop_event, dist, device)


def _train_locked(
    run: ResolvedRun,
    record: RunRecord,
    runs_root: Path,
    progress: bool,
    no_wandb: bool,
    stop_after: int | None,
    stop_event: threading.Event | None,
    dist: DistContext = SINGLE,
    device: torch.device | None = None,
) -> RunMetrics:
    cfg = run.config
    record.write_config(run)
    record.mark_running(total_iterations=cfg.train.iterations)
    record.log(f"run {run.run_id} ({cfg.name}, {run.role}) starts; pid {os.getpid()}")
    tracker = Tracker(cfg, record.dir, role=run.role, no_wandb=no_wandb, warn=_warn_to(record))
    trainer: Trainer | None = None
    try:
        state = None
        if record.last_checkpoint.is_file():
            state = load_torch_file(record.last_checkpoint)
        trainer = Trainer(
            run,
            record,
            runs_root=runs_root,
            stage=int(state["stage"]) if state else 0,
            progress=progress,
            dist=dist,
            device=device,
        )
        env = collect_env(trainer.device, num_threads=cfg.train.num_threads)
        record.write_env({**env, "processes": dist.world_size})
        if state is not None:
            trainer.load_state_dict(state, record.last_checkpoint)
            del state
            record.log(
                f"resumed from {record.last_checkpoint} at iteration {trainer.iteration} (stage {trainer.stage})"
            )
        tracker.start()
        _loop(trainer, record, tracker, progress, stop_after, stop_event)
        metrics = _finish(trainer, record, tracker, progress)
    except BaseException as exc:
        reason = failure_reason(exc, trainer.iteration if trainer else 0)
        try:
            record.log(reason if isinstance(exc, RunFailed | DiskFull) else traceback.format_exc())
            if isinstance(exc, RunStopped | KeyboardInterrupt):
                # stopped on request, with last.pt saved: the status stays "running" (an interrupted run once the
                # lock is free), so relaunching the sweep resumes it instead of counting it as failed
                record.update_status(reason=reason)
            else:
                record.mark_failed(reason)
            if trainer is not None:
                record.update_status(iteration=trainer.iteration, stage=trainer.stage)
                record.write_metrics(_metrics(run, trainer))
        except OSError as write_error:  # e.g. the disk is still full: say so, keep the first reason
            print(f"error: {reason} (and the record could not be updated: {write_error})", file=sys.stderr)
        tracker.finish(exit_code=1)
        if isinstance(exc, RunFailed | KeyboardInterrupt | ConfigError):
            raise
        raise RunFailed(reason) from exc
    tracker.finish(exit_code=0)
    return metrics


def failure_reason(exc: BaseException, iteration: int) -> str:
    """The one line status.json keeps for a run that ended with ``exc`` (the traceback goes to log.txt)."""
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted at iteration {iteration}"
    if isinstance(exc, RunFailed | DiskFull | CheckpointError):
        return one_line(str(exc))
    return one_line(f"{type(exc).__name__}: {exc}")


def _warn_to(record: RunRecord) -> Any:
    def warn(line: str) -> None:
        print(line, file=sys.stderr)
        record.log(line)

    return warn


def _eval_split(cfg: RunConfig) -> str:
    """Where periodic evaluation (and model selection) looks: the validation split if there is one, else test."""
    return "val" if cfg.data.val_ann else "test"


def _evaluate_split(
    trainer: Trainer, split: str, progress: bool, *, model: Any = None
) -> tuple[dict[str, float], float]:
    """COCO metrics and seconds per image of the student (or ``model``) on ``split`` (its dataset built once)."""
    from benchmark.data import build_dataset

    if split not in trainer.eval_sets:
        trainer.eval_sets[split] = build_dataset(trainer.cfg.data, split, progress=progress)
    metrics, seconds = evaluate(
        trainer.student if model is None else model,
        trainer.eval_sets[split],
        trainer.cfg.eval,
        trainer.device,
        progress=progress,
        dist=trainer.dist,
    )
    return {k: float(metrics[k]) for k in METRIC_NAMES}, seconds


def _periodic_eval(trainer: Trainer, record: RunRecord, tracker: Tracker, progress: bool) -> None:
    """``eval.every``: evaluate the student now on the evaluation split; its cost is kept out of the step times."""
    t0 = time.perf_counter()
    split = _eval_split(trainer.cfg)
    values, _ = _evaluate_split(trainer, split, progress)
    trainer.student.train()
    trainer.eval_time_s += time.perf_counter() - t0
    trainer.curves["eval"].append({"iter": trainer.iteration, "split": split, **values})
    tracker.log(prefixed(f"eval_{split}", values), iteration=trainer.iteration)
    record.log(f"eval ({split}) at {trainer.iteration}: mAP {values['mAP']:.4f} AP50 {values['AP50']:.4f}")


def _loop(
    trainer: Trainer,
    record: RunRecord,
    tracker: Tracker,
    progress: bool,
    stop_after: int | None,
    stop_event: threading.Event | None,
) -> None:
    cfg = trainer.cfg
    total = cfg.train.iterations
    staged = len(trainer.run.stages) > 1
    desc = trainer.run.run_id[:40]
    bar = tqdm(total=total, initial=trainer.iteration, disable=not progress, desc=desc, dynamic_ncols=True)
    try:
        while trainer.iteration < total:
            if trainer.dist.any(stop_event is not None and stop_event.is_set()):
                _stop(trainer, record, "stopped by signal")
            k = trainer.run.stage_at(trainer.iteration)
            if trainer.run.stages and k != trainer.stage:
                trainer.switch_stage(k)
            t0 = time.perf_counter()
            values = trainer.step()
            trainer.train_time_s += time.perf_counter() - t0
            for name, value in values.items():
                trainer.window[name] = trainer.window.get(name, 0.0) + value
            trainer.window_count += 1
            it = trainer.iteration
            bar.update(1)
            postfix = {"loss": f"{values['loss']:.3f}"}
            if trainer.criterion is not None:
                postfix["kd"] = f"{values['kd']:.3f}"
            bar.set_postfix(postfix, refresh=False)
            if cfg.eval.every and it % cfg.eval.every == 0 and it < total:
                _periodic_eval(trainer, record, tracker, progress)
            if it % cfg.train.log_every == 0 or it == total:
                count = trainer.window_count
                row = {"iter": it, **{n: s / count for n, s in trainer.window.items()}, "lr": values["lr"]}
                row["time_s"] = statistics.median(trainer.step_times[-count:])
                trainer.curves["train"].append(row)
                trainer.window, trainer.window_count = {}, 0
                eta = (total - it) * (_median(trainer.step_times[-50:]) or 0.0)
                record.update_status(iteration=it, stage=trainer.stage, eta_s=round(eta, 1))
                record.write_metrics(_metrics(trainer.run, trainer))
                tracker.log(prefixed("train", {k: v for k, v in row.items() if k != "iter"}), iteration=it)
                record.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            if staged and it == trainer.run.stages[trainer.stage].end:
                trainer.save(record.stage_checkpoint(trainer.stage))
                record.log(f"stage {trainer.stage} ends at iteration {it}: {record.stage_checkpoint(trainer.stage)}")
            if it % cfg.train.checkpoint_every == 0 or it == total:
                trainer.save(record.last_checkpoint)
            if stop_after is not None and it >= stop_after and it < total:
                _stop(trainer, record, "stopped on request")
    finally:
        trainer.batches.close()
        bar.close()


def _stop(trainer: Trainer, record: RunRecord, why: str) -> None:
    trainer.save(record.last_checkpoint)
    raise RunStopped(
        f"{why} at iteration {trainer.iteration}; rerun to resume from {record.last_checkpoint.relative_to(record.dir)}"
    )


def _finish(trainer: Trainer, record: RunRecord, tracker: Tracker, progress: bool) -> RunMetrics:
    from benchmark.cache.key import file_sha256

    cfg = trainer.cfg
    weights_sha256 = None
    if trainer.dist.is_main:
        weights = {"model": trainer.student.state_dict(), "card": cfg.model.name, "options": dict(cfg.model.options)}
        atomic_torch_save(weights, record.final_weights)
        weights_sha256 = file_sha256(record.final_weights)
        record.log(f"final weights: {record.final_weights} (sha256 {weights_sha256})")
    record.update_status(iteration=trainer.iteration, eta_s=None)
    final_val = None
    evals = [row for row in trainer.curves["eval"] if row["iter"] != trainer.iteration]
    if cfg.data.val_ann:
        final_val, _ = _evaluate_split(trainer, "val", progress)
        evals.append({"iter": trainer.iteration, "split": "val", **final_val})
        record.log("final (val) " + " ".join(f"{k}={v:.4f}" for k, v in final_val.items()))
    final, infer_time = _evaluate_split(trainer, "test", progress)
    evals.append({"iter": trainer.iteration, "split": "test", **final})
    trainer.curves["eval"] = evals
    record.log("final " + " ".join(f"{k}={v:.4f}" for k, v in final.items()))
    teacher_final = teacher_final_val = None
    if cfg.eval.eval_teacher and trainer.teacher is not None:
        teacher_final = _teacher_final(trainer, "test", progress)
        record.log("teacher " + " ".join(f"{k}={v:.4f}" for k, v in teacher_final.items()))
        if cfg.data.val_ann:
            teacher_final_val = _teacher_final(trainer, "val", progress)
    split = _eval_split(cfg)
    best = max((e for e in evals if e.get("split", "test") == split), key=lambda e: e["mAP"])
    metrics = _metrics(
        trainer.run,
        trainer,
        final=final,
        final_val=final_val,
        teacher_final=teacher_final,
        teacher_final_val=teacher_final_val,
        best={"mAP": best["mAP"], "iter": best["iter"], "split": split},
        infer_time_s=infer_time,
        weights_sha256=weights_sha256,
    )
    record.write_metrics(metrics)
    tracker.log(prefixed("eval", final), iteration=trainer.iteration)
    summary = {**prefixed("final", final), **prefixed("teacher", teacher_final or {})}
    tracker.summary({**summary, **prefixed("final_val", final_val or {}), **prefixed("cost", vars(metrics.cost))})
    record.mark_done()
    record.log(f"done: mAP {final['mAP']:.4f} AP50 {final['AP50']:.4f}")
    return metrics


# ---------------------------------------------------------------------------- module entry


def sigterm_event() -> threading.Event:
    """An event that SIGTERM sets (pass it as ``stop_event``: the run saves ``last.pt`` and stops at the next
    iteration, resumable). Only in the main thread; elsewhere an event nothing sets."""
    import signal

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.run.train --run-dir DIR``: train the run in DIR; exit 0 iff it is done."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.run.train", description=main.__doc__)
    parser.add_argument("--run-dir", type=Path, required=True, help="run directory holding config.yaml")
    parser.add_argument("--runs-root", type=Path, default=None, help="where teacher runs live (default: parent)")
    parser.add_argument("--no-wandb", action="store_true", help="do not mirror this run to W&B")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        cfg = RunRecord(args.run_dir).load_config()
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = sigterm_event()
    try:
        run = check(cfg, str(RunRecord(args.run_dir).config_path))
        metrics = train_run(
            run,
            args.run_dir,
            runs_root=args.runs_root,
            progress=not args.no_progress,
            no_wandb=args.no_wandb,
            stop_event=stop,
        )
    except ConfigError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except (RunFailed, RunBusy) as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 143 if isinstance(exc, RunStopped) and stop.is_set() else 1
    if env_world_size() > 1 and os.environ.get("RANK") != "0":
        return 0
    final = metrics.final or {}
    print(f"{run.run_id}: done, mAP {final.get('mAP', float('nan')):.4f} AP50 {final.get('AP50', float('nan')):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
