"""Atomic, idempotent dataset folders: build into a temporary sibling, write a marker, rename into place.

A prepared folder is complete exactly when it holds :data:`MARKER` whose builder name and parameters (which
include a format version) match the request and whose ``content_sha256`` equals the hash of the files
beside it. The marker is written last and the folder appears under its final name only by ``os.replace``,
so an interrupted build leaves a ``.<name>.tmp-*`` sibling (removed by the next build), never a folder
that looks complete. A file lock serialises concurrent builders (e.g. several ranks or sweep jobs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from benchmark.data.errors import DatasetError

MARKER = ".dfmsd-dataset.json"


def content_hash(root: Path) -> str:
    """sha256 over the sorted relative paths and bytes of every file under ``root`` except the marker."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MARKER):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def read_marker(root: Path) -> dict[str, Any] | None:
    """The marker of a prepared folder, or None when absent or unreadable."""
    try:
        data = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(root: Path, *, builder: str, params: dict[str, Any]) -> bool:
    """True when ``root`` was built by ``builder`` with ``params`` and its files are unchanged since."""
    marker = read_marker(root)
    if marker is None or marker.get("builder") != builder or marker.get("params") != params:
        return False
    return marker.get("content_sha256") == content_hash(root)


def build_atomically(
    root: Path,
    *,
    builder: str,
    params: dict[str, Any],
    build: Callable[[Path], dict[str, Any]],
    force: bool = False,
) -> Path:
    """Ensure ``root`` holds the output of ``build(tmp_dir)`` for ``params``; reuse it when complete.

    ``build`` writes into the empty directory it is given and returns JSON-ready statistics (kept in the
    marker). ``force`` rebuilds a complete folder. A non-empty folder without a marker is never touched.
    """
    root = Path(root).expanduser().absolute()
    params = json.loads(json.dumps(params))  # canonical JSON types, comparable with a re-read marker
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a directory")
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root.parent / f".{root.name}.lock")):
        if not force and is_complete(root, builder=builder, params=params):
            return root
        if root.exists() and read_marker(root) is None and any(root.iterdir()):
            raise DatasetError(f"{root}: not empty and not a prepared dataset (no {MARKER}); refusing to overwrite it")
        for stale in root.parent.glob(f".{root.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the final folder is an ordinary shared cache entry
        try:
            stats = build(tmp)
            marker = {"builder": builder, "params": params, "content_sha256": content_hash(tmp), "stats": stats}
            (tmp / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
            if root.exists():
                old = root.parent / f".{root.name}.tmp-old"
                os.replace(root, old)
                os.replace(tmp, root)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return root
