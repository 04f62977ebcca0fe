"""Detection data: COCO-style folders as deterministic samples, the NEON tree-crown tiles, synthetic shapes.

:func:`build_dataset` turns a :class:`~benchmark.config.DataConfig` into a :class:`CocoDetection`; NEON
and synthetic folders are prepared on demand in the user cache (see :mod:`benchmark.paths`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from benchmark.config import DataConfig
from benchmark.data.coco import Batch, CocoDetection, Sample, collate, to_float
from benchmark.data.errors import DatasetError, DownloadError
from benchmark.data.neon import prepare_neon
from benchmark.data.protocol import PROTOCOLS, Resize
from benchmark.data.synthetic import make_synthetic_coco, prepare_synthetic
from benchmark.data.weights import ensure_mobilenet_v2_weights
from benchmark.paths import cache_dir

__all__ = [
    "Batch",
    "CocoDetection",
    "DatasetError",
    "DownloadError",
    "PROTOCOLS",
    "Resize",
    "Sample",
    "build_dataset",
    "check_split",
    "collate",
    "dataset_root",
    "ensure_mobilenet_v2_weights",
    "make_synthetic_coco",
    "prepare_neon",
    "prepare_synthetic",
    "split_files",
    "to_float",
]

DATASETS = ("neon", "synthetic", "coco")
SPLITS = ("train", "val", "test")


def dataset_root(cfg: DataConfig, *, progress: bool = True) -> Path:
    """The COCO-layout folder of ``cfg`` (NEON and synthetic prepared on demand)."""
    if cfg.dataset == "coco":
        if not cfg.root:
            raise DatasetError("data.root: required for dataset 'coco' (the folder holding the COCO files)")
        return Path(cfg.root).expanduser()
    if cfg.dataset == "neon":
        return prepare_neon(Path(cfg.root).expanduser() if cfg.root else None, progress=progress)
    if cfg.dataset == "synthetic":
        return prepare_synthetic(
            Path(cfg.root).expanduser() if cfg.root else None,
            num_images=cfg.synthetic_images,
            size=cfg.synthetic_size,
            num_classes=cfg.synthetic_classes,
            seed=cfg.synthetic_seed,
        )
    raise DatasetError(f"data.dataset: unknown dataset {cfg.dataset!r} (choose from {', '.join(DATASETS)})")


def split_files(cfg: DataConfig, split: str) -> tuple[str, str]:
    """``(annotation file, image folder)`` of ``split``, relative to the dataset root; DatasetError for a
    validation split the config does not name."""
    if split not in SPLITS:
        raise DatasetError(f"split: unknown split {split!r} (choose from {', '.join(SPLITS)})")
    if split == "val":
        if not cfg.val_ann:
            raise DatasetError("data.val_ann: this config names no validation split")
        return cfg.val_ann, cfg.val_images or cfg.train_images
    return (cfg.train_ann, cfg.train_images) if split == "train" else (cfg.test_ann, cfg.test_images)


def check_split(cfg: DataConfig, split: str) -> str | None:
    """The one-line problem of a user's ``coco`` split (annotation file: JSON, required keys, categories, ids,
    boxes; every referenced image file exists and, for JPEG/PNG, is not cut off before its end marker; no image
    is decoded), or None when it checks out. Datasets this suite prepares itself (neon, synthetic) are not
    checked here. A file that passed is remembered by its path,
    size and modification time (``<cache>/validated/``), so a large annotation file is read once."""
    if cfg.dataset != "coco" or not cfg.root:
        return None
    ann, images = split_files(cfg, split)
    root = Path(cfg.root).expanduser()
    ann_path, image_dir = root / ann, root / images
    try:
        stat = ann_path.stat()
    except OSError:
        return f"{ann_path}: annotation file not found"
    limit = cfg.max_images if split == "train" else None
    key = json.dumps([str(ann_path.resolve()), stat.st_size, stat.st_mtime_ns, str(image_dir.resolve()), limit])
    marker = cache_dir() / "validated" / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".ok")
    if marker.is_file():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CocoDetection(
                ann_path,
                image_dir,
                input_size=cfg.input_size,
                max_images=limit,
                drop_degenerate=True,
            ).check_complete_files()
    except DatasetError as exc:
        return str(exc)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n")
    return None


def build_dataset(cfg: DataConfig, split: str, *, progress: bool = True) -> CocoDetection:
    """The ``split`` ("train", "val" or "test") of ``cfg`` under its protocol (:mod:`benchmark.data.protocol`);
    ``cfg.max_images`` limits train, and the ``mmdet`` protocol filters its images (``filter_empty_gt``).

    The files are ``root / cfg.<split>_ann`` and ``root / cfg.<split>_images`` (``val_images`` defaults to the
    training images' folder); NEON and synthetic folders are prepared on demand with these names. For ``coco``,
    boxes of non-positive size (two in official train2017) are left out of the targets with a warning.
    """
    ann, images = split_files(cfg, split)
    root = dataset_root(cfg, progress=progress)
    dataset = CocoDetection(
        root / ann,
        root / images,
        resize=Resize.of(cfg),
        max_images=cfg.max_images if split == "train" else None,
        drop_degenerate=cfg.dataset == "coco",
        filter_empty_gt=split == "train" and cfg.protocol == "mmdet",
    )
    if dataset.num_dropped:
        warnings.warn(
            f"{root / ann}: left {dataset.num_dropped} box(es) of non-positive size out of the targets",
            stacklevel=2,
        )
    return dataset
