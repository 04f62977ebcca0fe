"""The teacher check before a sweep's students (``teacher_check`` in the sweep file).

A frozen teacher checkpoint that scores far from its published AP (the classic silent failure: an mmdet-version
change mis-loads it, the data protocol differs) makes every student of a 300-GPU-hour sweep train against
garbage. So the plan puts one *check node* per checked teacher before its students
(:func:`benchmark.launch.plan.add_check_nodes`; the students depend on it, hard): it evaluates the checkpoint on
the test split of the students' data (its first ``images`` images in file order, or all of it) with the
students' protocol and evaluation settings, through our pycocotools path, and fails when the box AP (%) differs
from the expected one by more than the tolerance. A failed check fails its students (``dependency check-...
failed``): nothing is trained against that teacher.

Each evaluation is done once: its result is kept in ``<out>/cache/teacher-checks/<key>.json``, keyed by the
checkpoint's sha256, the teacher model, the test data fingerprint, the protocol, the evaluation settings and the
number of images; a relaunch, another sweep into the same output directory or ``plan --check-teachers`` reads it.

Node command: ``python -m benchmark.launch.teacher_check --node --run-dir <out>/cache/checks/<id> --runs-root
<out>/runs --expected AP --tolerance T [--images N]`` (what the scheduler runs; its record is config.yaml,
status.json, log.txt like a cache node's).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.config import ConfigError, RunConfig

CHECKER = (sys.executable, "-m", "benchmark.launch.teacher_check", "--node")
CHECK_NODES_DIR = ("cache", "checks")  # check-node records: <out>/cache/checks/<id>/
RESULTS_DIR = ("cache", "teacher-checks")  # evaluation results: <out>/cache/teacher-checks/<key>.json
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckSpec:
    """What a check node checks: the sweep's teacher name, its expected box AP (%), the tolerance (AP points) and
    the number of test images (None: all)."""

    teacher: str
    expected: float
    tolerance: float
    images: int | None

    def argv(self) -> tuple[str, ...]:
        """The node command (:data:`CHECKER` and this spec's flags)."""
        images = () if self.images is None else ("--images", str(self.images))
        return (*CHECKER, "--expected", repr(self.expected), "--tolerance", repr(self.tolerance), *images)

    def describe(self) -> str:
        subset = "all test images" if self.images is None else f"the first {self.images} test images"
        return f"box AP of {self.teacher} on {subset}: expected {self.expected:g} ± {self.tolerance:g}"


@dataclass(frozen=True)
class TeacherScore:
    """One evaluation of a teacher checkpoint (what ``<key>.json`` holds)."""

    key: str
    teacher: str
    checkpoint: str
    checkpoint_sha256: str
    split: str
    images: int
    metrics: dict[str, float]
    seconds: float
    cached: bool = False

    @property
    def box_ap(self) -> float:
        """COCO box AP in % (mAP@[.5:.95] x 100)."""
        return 100.0 * self.metrics["mAP"]


def verdict(score: TeacherScore, expected: float, tolerance: float) -> str | None:
    """None when ``|box AP - expected| <= tolerance``; otherwise the one-line reason to refuse the students."""
    diff = score.box_ap - expected
    if abs(diff) <= tolerance + 1e-9:
        return None
    return (
        f"teacher {score.teacher} ({Path(score.checkpoint).name}) scores box AP {score.box_ap:.2f} on "
        f"{score.images} {score.split} images, {diff:+.2f} from the expected {expected:g} (tolerance "
        f"{tolerance:g}): refused; check the checkpoint, the mmdet version and the data protocol"
    )


def score_teacher(
    cfg: RunConfig,
    out: str | Path,
    *,
    images: int | None,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    progress: bool = True,
) -> TeacherScore:
    """Evaluate the one teacher of ``cfg`` (a check node's config) on its test split, or read the kept result."""
    from benchmark.atomic import atomic_write_text
    from benchmark.cache.key import data_fingerprint, file_sha256
    from benchmark.data import Resize, build_dataset
    from benchmark.run.build import build_teacher, teacher_weights
    from benchmark.run.evaluate import coco_metrics, predict_dataset
    from benchmark.run.resolve import resolve
    from benchmark.run.train import resolve_device

    (stage,) = resolve(cfg).stages
    checkpoint = teacher_weights(stage, Path(out) / "runs")
    sha = file_sha256(checkpoint)
    dataset = build_dataset(cfg.data, "test", progress=progress)
    n = len(dataset) if images is None else min(images, len(dataset))
    fields = {
        "format": FORMAT_VERSION,
        "checkpoint_sha256": sha,
        "teacher_model": {"name": stage.teacher.model.name, "options": dict(stage.teacher_model_options)},
        "data": data_fingerprint(dataset),
        "resize": Resize.of(cfg.data).key(),
        "eval": [cfg.eval.score_thresh, cfg.eval.max_detections],
        "images": n,
    }
    key = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = Path(out).joinpath(*RESULTS_DIR, f"{key}.json")
    try:
        kept = json.loads(path.read_text())
        return TeacherScore(**{**kept["score"], "cached": True})
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import torch

    torch.set_num_threads(cfg.train.num_threads)
    device = resolve_device(cfg.train.device)
    teacher = build_teacher(stage, checkpoint, num_classes=dataset.num_classes, device=device)
    teacher.configure_inference(score_thresh=cfg.eval.score_thresh, max_detections=cfg.eval.max_detections)
    log(f"teacher check: evaluating {stage.teacher.model.name} ({checkpoint}) on {n} test images")
    t0 = time.perf_counter()
    results, _ = predict_dataset(
        teacher, dataset, batch_size=cfg.eval.batch_size, device=device, progress=progress, indices=range(n)
    )
    metrics = coco_metrics(dataset.coco, results, image_ids=dataset.image_ids[:n])
    score = TeacherScore(
        key=key,
        teacher=stage.teacher.model.name,
        checkpoint=str(checkpoint),
        checkpoint_sha256=sha,
        split="test",
        images=n,
        metrics=metrics,
        seconds=round(time.perf_counter() - t0, 3),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    score_data = {k: v for k, v in dataclasses.asdict(score).items() if k != "cached"}
    atomic_write_text(path, json.dumps({"key_fields": fields, "score": score_data}, indent=1) + "\n")
    return score


def run_check(
    cfg: RunConfig,
    out: str | Path,
    spec: CheckSpec,
    *,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    progress: bool = True,
) -> tuple[TeacherScore, str | None]:
    """The teacher's score and :func:`verdict` (None: it passes), with one line to ``log`` either way."""
    score = score_teacher(cfg, out, images=spec.images, log=log, progress=progress)
    reason = verdict(score, spec.expected, spec.tolerance)
    seen = "kept result" if score.cached else f"evaluated in {score.seconds:.0f} s"
    log(
        f"teacher check {spec.teacher}: box AP {score.box_ap:.2f} on {score.images} test images ({seen}); "
        f"expected {spec.expected:g} ± {spec.tolerance:g}: {'ok' if reason is None else 'REFUSED'}"
    )
    return score, reason


def main(argv: list[str] | None = None) -> int:
    """Check the teacher of the node in ``--run-dir``; exit 0 iff its box AP is within the tolerance."""
    from benchmark.run.record import RunRecord, one_line

    parser = argparse.ArgumentParser(prog="python -m benchmark.launch.teacher_check", description=main.__doc__)
    parser.add_argument("--run-dir", type=Path, required=True, help="the check node's record (<out>/cache/checks/<id>)")
    parser.add_argument("--runs-root", type=Path, required=True, help="<out>/runs")
    parser.add_argument("--node", action="store_true", help="mark the record running, then done or failed")
    parser.add_argument("--expected", type=float, required=True, help="expected box AP in %%")
    parser.add_argument("--tolerance", type=float, required=True, help="allowed |AP - expected| in AP points")
    parser.add_argument("--images", type=int, default=None, help="first N test images (default: all)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    record = RunRecord(args.run_dir)

    def log(line: str) -> None:
        record.log(line)
        print(line, file=sys.stderr)

    try:
        cfg = record.load_config()
        if args.node:
            record.mark_running(total_iterations=1)
        (stage,) = cfg.distill.stage_list()
        spec = CheckSpec(stage.teacher.model.name, args.expected, args.tolerance, args.images)
        score, reason = run_check(cfg, args.runs_root.parent, spec, log=log, progress=not args.no_progress)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as exc:  # TeacherRejected is a RuntimeError
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        if args.node:
            record.mark_failed(one_line(str(exc)))
        return 1
    if args.node:
        record.update_status(iteration=1, box_ap=round(score.box_ap, 3), expected=args.expected)
        if reason is None:
            record.mark_done()
        else:
            record.mark_failed(reason)
    return 0 if reason is None else 1


if __name__ == "__main__":
    sys.exit(main())
