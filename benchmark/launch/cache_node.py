"""The cache-build step between a teacher run and its students: ``python -m benchmark.launch.cache_node --run-dir DIR``.

:func:`prepare_teacher_caches` builds (or verifies) every teacher cache a student run will read, the same
way the trainer would at its start (:func:`~benchmark.cache.source.teacher_source`, under the cache's
file lock). The sweep scheduler runs it once per cache as its own DAG node after the teacher and before
the students (:func:`benchmark.launch.plan.add_cache_nodes`): ``python -m benchmark.launch.cache_node --node --run-dir
<out>/cache/nodes/<id> --runs-root <out>/runs``, where ``--node`` makes ``DIR`` the node's own small
record (config.yaml, status.json queued → running → done | failed, log.txt). Without the node nothing
breaks: the first student to start builds the cache and the others wait on the lock, then read it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from benchmark.cache.key import default_cache_root
from benchmark.cache.source import CachedTeacher, teacher_source
from benchmark.config import ConfigError, RunConfig


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def prepare_teacher_caches(
    cfg: RunConfig, runs_root: str | Path, *, log: Callable[[str], None] = _stderr, progress: bool = True
) -> int:
    """Build or verify the teacher caches of student run ``cfg`` (teacher runs must be done); returns how many
    of its stage teachers read a cache (the others run live, each with its one-line reason logged)."""
    from benchmark.data import build_dataset
    from benchmark.run.build import build_teacher, teacher_weights
    from benchmark.run.resolve import resolve
    from benchmark.run.train import resolve_device

    runs_root = Path(runs_root)
    stages = []
    for stage in resolve(cfg).stages:
        if all(stage.teacher != s.teacher for s in stages):  # configs hold dicts: deduplicate by equality
            stages.append(stage)
    if not stages:
        return 0
    weights = [teacher_weights(s, runs_root, min_map=cfg.distill.min_teacher_map) for s in stages]  # fail early
    torch.set_num_threads(cfg.train.num_threads)
    device = resolve_device(cfg.train.device)
    dataset = build_dataset(cfg.data, "train", progress=progress)
    cached = 0
    for stage, path in zip(stages, weights):
        teacher = build_teacher(stage, path, num_classes=dataset.num_classes, device=device)
        source = teacher_source(
            teacher,
            cfg=cfg,
            teacher_model=dataclasses.replace(stage.teacher.model, checkpoint=str(path)),
            weights=path,
            dataset=dataset,
            cache_root=default_cache_root(runs_root),
            log=log,
            progress=progress,
        )
        cached += isinstance(source, CachedTeacher)
    return cached


def main(argv: list[str] | None = None) -> int:
    """Build the teacher caches of the student run in ``--run-dir``; exit 0 when done (cached or live)."""
    from benchmark.run.record import RunRecord, one_line

    parser = argparse.ArgumentParser(prog="python -m benchmark.launch.cache_node", description=main.__doc__)
    parser.add_argument("--run-dir", type=Path, required=True, help="student run directory holding config.yaml")
    parser.add_argument("--runs-root", type=Path, default=None, help="where teacher runs live (default: parent)")
    parser.add_argument(
        "--node",
        action="store_true",
        help="--run-dir is a cache node's record (<out>/cache/nodes/<id>, written by the scheduler): mark it "
        "running, then done or failed, and log to its log.txt",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    record = RunRecord(args.run_dir)
    log = _stderr
    if args.node:

        def log(line: str) -> None:
            record.log(line)
            _stderr(line)

    try:
        cfg = record.load_config()
        if args.node:
            record.mark_running(total_iterations=len(cfg.distill.stage_list()))
        runs_root = args.runs_root or args.run_dir.parent
        cached = prepare_teacher_caches(cfg, runs_root, log=log, progress=not args.no_progress)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        if args.node:
            record.mark_failed(one_line(str(exc)))
        return 1
    if args.node:
        total = len(cfg.distill.stage_list())
        record.update_status(iteration=total, cached=cached)
        record.mark_done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
