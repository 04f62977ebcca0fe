"""build_detector: option checks, checkpoints, the `models` command."""

import pytest
import torch

from benchmark.cli import main
from benchmark.config import ConfigError, ModelConfig
from benchmark.zoo import build_detector

from .conftest import NUM_CLASSES, TINY_OPTIONS, tiny


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown model 'yolo'; known: faster_rcnn_mnv2_fpn256, fcos"):
        build_detector(ModelConfig(name="yolo"), num_classes=1)


def test_bad_option_names_it_and_the_accepted_ones():
    with pytest.raises(ConfigError) as err:
        build_detector(ModelConfig(name="retinanet_mnv2_fpn64", options={"fpn_chanels": 32}), num_classes=1)
    msg = str(err.value)
    assert "'fpn_chanels'" in msg and "fpn_channels" in msg and "pretrained_backbone" in msg
    with pytest.raises(ConfigError, match="option 'fpn_channels': expected"):
        build_detector(ModelConfig(name="retinanet_mnv2_fpn64", options={"fpn_channels": "wide"}), num_classes=1)
    with pytest.raises(ConfigError, match="no option 'num_classes'"):
        build_detector(ModelConfig(name="fcos_mnv2_fpn64", options={"num_classes": 3}), num_classes=1)


def test_group_norm_head_needs_multiple_of_32():
    options = {"pretrained_backbone": False, "fpn_channels": 48}
    with pytest.raises(ValueError, match="multiple of 32"):
        build_detector(ModelConfig(name="fcos_mnv2_fpn64", options=options), num_classes=1)


@pytest.mark.parametrize("wrapped", [False, True])
def test_checkpoint_roundtrip(tmp_path, wrapped):
    name = "fcos_mnv2_fpn64"
    source = tiny(name)
    state = source.state_dict()
    path = tmp_path / "ckpt.pth"
    torch.save({"model": state, "iteration": 3} if wrapped else state, path)
    torch.manual_seed(1)  # a differently initialised build, then loaded
    options = {"pretrained_backbone": False, **TINY_OPTIONS[name]}
    loaded = build_detector(ModelConfig(name=name, options=options, checkpoint=str(path)), num_classes=NUM_CLASSES)
    for k, v in loaded.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)


def test_checkpoint_errors(tmp_path):
    options = {"pretrained_backbone": False, "fpn_channels": 32}
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        build_detector(ModelConfig("fcos_mnv2_fpn64", options, str(tmp_path / "nope.pth")), num_classes=1)
    path = tmp_path / "other.pth"
    torch.save(tiny("faster_rcnn_mnv2_fpn256").state_dict(), path)
    with pytest.raises(ValueError, match="does not fit model fcos_mnv2_fpn64"):
        build_detector(ModelConfig("fcos_mnv2_fpn64", options, str(path)), num_classes=1)


def test_models_command(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "retinanet_mnv2_fpn64" in out and "p3:64/8" in out and "GFLOPs @400x400" in out
