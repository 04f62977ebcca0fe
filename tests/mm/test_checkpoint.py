"""Scoped ``weights_only`` loading of mmengine checkpoints, and partial/strict weight loading."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("mmengine")
pytestmark = pytest.mark.mm

from benchmark.checkpoints import mm_safe_globals  # noqa: E402
from benchmark.zoo.mmdet.checkpoint import load_state_dict_file, load_weights  # noqa: E402


def runner_like_checkpoint(path, state):
    """What mmengine's Runner saves: numpy scalars in ``meta``, HistoryBuffers in ``message_hub``."""
    from mmengine.logging import MessageHub

    hub = MessageHub.get_instance("test_checkpoint")
    hub.update_scalar("train/loss", np.float64(1.5))
    hub.update_scalar("train/loss", 0.5)
    torch.save(
        {
            "meta": {"epoch": 3, "seed": np.int64(7), "lr": np.float32(0.01), "hist": np.arange(4)},
            "state_dict": state,
            "message_hub": hub.state_dict(),
        },
        path,
    )


def test_runner_checkpoint_loads_only_inside_the_scope(tmp_path):
    path = tmp_path / "epoch_3.pth"
    runner_like_checkpoint(path, {"w": torch.ones(2)})
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    with mm_safe_globals():
        ckpt = torch.load(path, weights_only=True)
    assert ckpt["meta"]["seed"] == 7 and ckpt["message_hub"]["log_scalars"]["train/loss"].mean() == 1.0
    with pytest.raises(pickle.UnpicklingError):  # the allow-list is gone after the block
        torch.load(path, weights_only=True)
    assert torch.equal(load_state_dict_file(path)["w"], torch.ones(2))


class _Getattr:
    """Pickles as ``getattr(np.ndarray, "tofile")``: a getattr that is not a HistoryBuffer statistic."""

    def __reduce__(self):
        return (getattr, (np.ndarray, "tofile"))


def test_other_getattr_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.ones(1)}, "x": _Getattr()}, path)
    with pytest.raises(pickle.UnpicklingError, match="refused|getattr"):
        load_state_dict_file(path)


def test_load_weights_prefixes_strict_and_shapes(tmp_path):
    src = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    path = tmp_path / "w.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}}, path)
    dst = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    load_weights(dst, path, prefixes=["1."])
    assert torch.equal(dst[1].weight, src[1].weight) and not torch.equal(dst[0].weight, src[0].weight)
    with pytest.raises(ValueError, match="shapes differ"):
        load_weights(nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 1)), path)
    with pytest.raises(ValueError, match="lacks"):
        load_weights(nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1), nn.Linear(1, 1)), path)
    with pytest.raises(FileNotFoundError):
        load_state_dict_file(tmp_path / "missing.pth")
