"""What a teacher-feature cache is a cache *of*: the teacher's weights, the data and the transforms.

The key is a hash of the teacher checkpoint file (sha256 of its bytes), the teacher's model config (name
and builder options), a fingerprint of the training data and the list of deterministic transforms, plus
the storage dtype, the teacher's autocast (``train.amp``) and the cache format version. Change any of them and
the key, hence the directory, changes; nothing is ever looked up by path or run id alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.config import DataConfig, ModelConfig
from benchmark.data.coco import CocoDetection
from benchmark.data.protocol import Resize

FORMAT_VERSION = 1
KEY_LENGTH = 16


@dataclass(frozen=True, order=True)
class Transform:
    """One deterministic input transform of the data pipeline: resized by ``resize`` (the protocol's rule),
    then mirrored when ``hflip`` (:meth:`benchmark.data.coco.CocoDetection.get` is a pure function of these)."""

    resize: Resize
    hflip: bool

    @property
    def tag(self) -> str:
        return f"{self.resize.tag}{'-flip' if self.hflip else ''}"

    def key(self) -> list:
        """What the cache key hashes (native: ``[size, hflip]``, the key of caches built before protocols)."""
        return [self.resize.key(), self.hflip]


def transforms_of(data: DataConfig) -> tuple[Transform, ...]:
    """The finite set of transforms a training run draws from (one resize; unflipped, and flipped if ``hflip``)."""
    flips = (False, True) if data.hflip else (False,)
    return tuple(Transform(Resize.of(data), flip) for flip in flips)


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprint(dataset: CocoDetection) -> str:
    """sha256 over the annotation file's bytes and (image id, file name, byte size, mtime) of every image the
    dataset serves (``max_images`` included). Image contents are not hashed (COCO is 18 GB); a touched file
    only costs a rebuild."""
    digest = hashlib.sha256(file_sha256(dataset.ann_file).encode())
    for index in range(len(dataset)):
        info = dataset.image_info(index)
        stat = (dataset.image_dir / str(info["file_name"])).stat()
        digest.update(json.dumps([info["id"], str(info["file_name"]), stat.st_size, stat.st_mtime_ns]).encode())
    return digest.hexdigest()


def cache_key(
    *,
    teacher_sha256: str,
    teacher_model: ModelConfig,
    data_fp: str,
    transforms: Sequence[Transform],
    dtype: str,
    amp: str = "off",
) -> tuple[str, dict[str, Any]]:
    """``(key, fields)``: the hex key of a cache and the fields it hashes (stored in its manifest); ``amp``: the
    autocast the teacher ran under (``train.amp``; hashed only when not ``off``, the keys of earlier caches)."""
    fields = {
        "format": FORMAT_VERSION,
        "teacher_sha256": teacher_sha256,
        "teacher_model": {"name": teacher_model.name, "options": teacher_model.options},
        "data": data_fp,
        "transforms": [t.key() for t in transforms],
        "dtype": dtype,
    }
    if amp != "off":
        fields["amp"] = amp
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH], fields


def cache_dir_name(key: str) -> str:
    return f"teacher-{key}"


def default_cache_root(runs_root: Path) -> Path:
    """``<out>/cache`` for runs in ``<out>/runs``."""
    return Path(runs_root).parent / "cache"
