"""The on-disk teacher-feature cache: one file per (image, transform), a manifest of checksums, a marker.

Layout of ``<out>/cache/teacher-<key>/``::

    entries/<image id>-<transform tag>.pt   {level name: (C, H, W) tensor} (torch.save, fp32 or fp16)
    manifest.json                           key fields, levels, dtype, and per entry: file, sha256, bytes,
                                            img_shape, pad_shape
    COMPLETE                                written last: {"manifest_sha256": ...}

Every file is written atomically (temp file, fsync, ``os.replace``). A directory without ``COMPLETE`` is a
partial build; a file whose size or sha256 disagrees with the manifest is corruption: both are detected by
:meth:`FeatureCache.open` and :func:`ensure_cache` rebuilds them. Builds take ``teacher-<key>.lock`` (a
file lock), so concurrent student runs build a cache once and the others wait for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import filelock
import torch
from torch import Tensor
from tqdm import tqdm

from benchmark.atomic import atomic_write_bytes
from benchmark.cache.key import FORMAT_VERSION, Transform, cache_dir_name, file_sha256
from benchmark.data.coco import CocoDetection, to_float
from benchmark.precision import autocast
from benchmark.zoo.base import Detector

MANIFEST = "manifest.json"
COMPLETE = "COMPLETE"
ENTRIES = "entries"
DTYPES = {"float32": torch.float32, "float16": torch.float16}
BUILD_BATCH = 8


class CacheCorrupt(RuntimeError):
    """A cache directory that is partial or fails its checksums; ``str(exc)`` says what, in one line."""


def entry_name(image_id: int, transform: Transform) -> str:
    return f"{image_id}/{transform.tag}"


class FeatureCache:
    """A complete, verified cache directory; :meth:`load` reads the features of one (image, transform)."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.manifest = manifest
        self.entries: dict[str, dict[str, Any]] = manifest["entries"]
        self.dtype: str = manifest["dtype"]
        self.levels: dict[str, int] = manifest["levels"]

    @property
    def nbytes(self) -> int:
        return sum(e["bytes"] for e in self.entries.values())

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, verify: bool = True, progress: bool = False) -> FeatureCache:
        """Open a built cache; :class:`CacheCorrupt` if it is partial or (``verify``) any checksum disagrees."""
        directory = Path(directory)
        marker, manifest_path = directory / COMPLETE, directory / MANIFEST
        if not marker.is_file():
            raise CacheCorrupt("partial build (no COMPLETE marker)")
        try:
            expected = json.loads(marker.read_text())["manifest_sha256"]
            blob = manifest_path.read_bytes()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CacheCorrupt(f"unreadable marker or manifest ({type(exc).__name__}: {exc})") from None
        if hashlib.sha256(blob).hexdigest() != expected:
            raise CacheCorrupt(f"{MANIFEST} does not match the checksum in {COMPLETE}")
        manifest = json.loads(blob)
        if manifest.get("format") != FORMAT_VERSION:
            raise CacheCorrupt(f"cache format {manifest.get('format')}, this version reads {FORMAT_VERSION}")
        cache = cls(directory, manifest)
        if verify:
            cache.verify(progress=progress)
        return cache

    def verify(self, *, progress: bool = False) -> None:
        """Check every entry file's size and sha256 against the manifest (:class:`CacheCorrupt` on the first miss)."""
        bar = tqdm(self.entries.items(), desc="verifying teacher cache", unit="file", disable=not progress)
        for name, entry in bar:
            path = self.directory / ENTRIES / entry["file"]
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise CacheCorrupt(f"entry {name}: file {path.name} is missing") from None
            if size != entry["bytes"] or file_sha256(path) != entry["sha256"]:
                raise CacheCorrupt(f"entry {name}: file {path.name} fails its sha256/size check")

    def load(self, image_id: int, transform: Transform) -> tuple[dict[str, Tensor], tuple[int, int], tuple[int, int]]:
        """``(features by level (C, H, W) in the stored dtype, img_shape, pad_shape)`` of one entry (memory-mapped)."""
        name = entry_name(image_id, transform)
        entry = self.entries.get(name)
        if entry is None:
            raise KeyError(f"teacher cache {self.directory}: no entry {name} (the data differs from the cached data)")
        feats = torch.load(self.directory / ENTRIES / entry["file"], map_location="cpu", weights_only=True, mmap=True)
        return feats, tuple(entry["img_shape"]), tuple(entry["pad_shape"])


def _entry_order(
    dataset: CocoDetection, transforms: Sequence[Transform]
) -> list[tuple[tuple[int, int], int, Transform]]:
    """(resized shape, index, transform) for every entry, grouped by shape so a build batch pads to nothing."""
    order = []
    for index in range(len(dataset)):
        info = dataset.image_info(index)
        for t in transforms:
            h, w = t.resize.shape(int(info["height"]), int(info["width"]))
            order.append(((h, w), index, t))
    return sorted(order, key=lambda e: (e[0], e[1], e[2]))


def build_cache(
    directory: str | os.PathLike[str],
    teacher: Detector,
    dataset: CocoDetection,
    transforms: Sequence[Transform],
    *,
    dtype: str,
    key_fields: dict[str, Any],
    batch_size: int = BUILD_BATCH,
    progress: bool = True,
    amp: str = "off",
) -> FeatureCache:
    """Run the frozen ``teacher`` over every (image, transform) of ``dataset`` and write the cache.

    Images of one resized shape are batched together (``batch_size`` at a time), so the teacher sees each
    image padded exactly as in a training batch of equal-shape images; under the run's autocast (``amp``), as
    the live teacher. Anything already in ``directory`` is removed first.
    """
    if dtype not in DTYPES:
        raise ValueError(f"cache dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if any(t.resize != dataset.resize for t in transforms):
        raise ValueError(f"transform resizes {[t.resize for t in transforms]} differ from the data's {dataset.resize}")
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    (directory / ENTRIES).mkdir(parents=True)
    order = _entry_order(dataset, transforms)
    chunks: list[list[tuple[tuple[int, int], int, Transform]]] = []
    for item in order:
        if chunks and chunks[-1][0][0] == item[0] and len(chunks[-1]) < batch_size:
            chunks[-1].append(item)
        else:
            chunks.append([item])
    entries: dict[str, dict[str, Any]] = {}
    levels: dict[str, int] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=len(order), desc=f"teacher cache {directory.name}", unit="img", disable=not progress)
    with torch.no_grad(), autocast(amp, teacher.device):
        for chunk in chunks:
            samples = [dataset.get(index, t.hflip) for _, index, t in chunk]
            fb = teacher.extract_features([to_float(s.image.to(teacher.device)) for s in samples])
            for j, ((_, _, t), sample) in enumerate(zip(chunk, samples)):
                feats = {n: f[j].to("cpu", DTYPES[dtype]).clone() for n, f in fb.features.items()}
                levels = {n: int(f.shape[0]) for n, f in feats.items()}
                buffer = io.BytesIO()
                torch.save(feats, buffer)
                blob = buffer.getvalue()
                file = f"{sample.image_id}-{t.tag}.pt"
                atomic_write_bytes(directory / ENTRIES / file, blob)
                entries[entry_name(sample.image_id, t)] = {
                    "file": file,
                    "sha256": hashlib.sha256(blob).hexdigest(),
                    "bytes": len(blob),
                    "img_shape": list(fb.img_metas[j]["img_shape"]),
                    "pad_shape": list(fb.img_metas[j]["pad_shape"]),
                }
            bar.update(len(chunk))
    bar.close()
    manifest = {
        "format": FORMAT_VERSION,
        "key": key_fields,
        "dtype": dtype,
        "levels": levels,
        "teacher": teacher.card.name,
        "torch": torch.__version__,
        "build_time_s": round(time.perf_counter() - t0, 3),
        "entries": entries,
    }
    blob = json.dumps(manifest, indent=1, sort_keys=True).encode()
    atomic_write_bytes(directory / MANIFEST, blob)
    atomic_write_bytes(directory / COMPLETE, json.dumps({"manifest_sha256": hashlib.sha256(blob).hexdigest()}).encode())
    return FeatureCache(directory, manifest)


def ensure_cache(
    root: str | os.PathLike[str],
    key: str,
    *,
    teacher: Detector,
    dataset: CocoDetection,
    transforms: Sequence[Transform],
    dtype: str,
    key_fields: dict[str, Any],
    log: Callable[[str], None] = print,
    progress: bool = True,
    amp: str = "off",
) -> FeatureCache:
    """The verified cache ``<root>/teacher-<key>``, built (or rebuilt, if partial or corrupt) under its lock (the
    teacher under autocast ``amp``)."""
    directory = Path(root) / cache_dir_name(key)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(directory) + ".lock"):
        if directory.exists():
            try:
                return FeatureCache.open(directory, progress=progress)
            except CacheCorrupt as exc:
                log(f"teacher cache {directory}: {exc}; rebuilding it")
        t0 = time.perf_counter()
        cache = build_cache(
            directory, teacher, dataset, transforms, dtype=dtype, key_fields=key_fields, progress=progress, amp=amp
        )
        log(
            f"teacher cache {directory}: built {len(cache.entries)} entries, {cache.nbytes / 1e6:.1f} MB "
            f"{dtype}, in {time.perf_counter() - t0:.1f} s"
        )
        return cache
