"""The mmdet Detector adapter on tiny random-init configs: losses, features vs card, predictions, conversions."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from benchmark.config import ModelConfig  # noqa: E402
from benchmark.zoo import build_detector  # noqa: E402
from benchmark.zoo.mmdet import mmdet_card  # noqa: E402

from .conftest import NUM_CLASSES, TINY, tiny  # noqa: E402


@pytest.fixture(scope="module", params=TINY)
def detector(request):
    torch.manual_seed(0)
    return build_detector(tiny(request.param), num_classes=NUM_CLASSES)


def test_forward_train_losses_and_hooked_features(detector, images_targets):
    images, targets = images_targets
    detector.train()
    losses, feats = detector.forward_train(images, targets)
    assert losses and all(k.startswith("loss") and v.dim() == 0 and math.isfinite(v.item()) for k, v in losses.items())
    sum(losses.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in detector.model.backbone.parameters())
    detector.zero_grad()
    # features: the card's levels, channels and strides over the padded batch (128 x 128 here)
    assert list(feats.features) == [lv.name for lv in detector.card.levels]
    for lv in detector.card.levels:
        f = feats.features[lv.name]
        assert f.shape == (2, lv.channels, math.ceil(128 / lv.stride), math.ceil(128 / lv.stride))
        assert f.requires_grad
    assert feats.img_metas == [
        {"img_shape": (96, 128), "pad_shape": (128, 128)},
        {"img_shape": (128, 100), "pad_shape": (128, 128)},
    ]


def test_hooked_features_are_extract_features(detector, images_targets):
    images, targets = images_targets
    detector.eval()  # same BN statistics in both passes
    _, hooked = detector.forward_train(images, targets)
    with torch.no_grad():
        direct = detector.extract_features(images)
    for name, f in direct.features.items():
        torch.testing.assert_close(hooked.features[name].detach(), f)


def test_predict_format(detector, images_targets):
    images, _ = images_targets
    detector.configure_inference(score_thresh=0.0, max_detections=7)
    detector.train()
    out = detector.predict(images)
    assert detector.training  # mode restored
    assert len(out) == 2
    for det, img in zip(out, images):
        n = det["boxes"].shape[0]
        assert 0 < n <= 7 and det["boxes"].shape == (n, 4) and det["scores"].shape == (n,)
        assert det["labels"].dtype == torch.int64 and det["labels"].min() >= 1 and det["labels"].max() <= NUM_CLASSES
        h, w = img.shape[1:]
        assert (det["boxes"][:, 0::2] <= w + 1e-3).all() and (det["boxes"][:, 1::2] <= h + 1e-3).all()


def test_targets_and_images_are_converted(images_targets):
    """Labels 1..K -> 0..K-1; RGB [0, 1] -> the preprocessor's BGR 0..255 input, for both normalisations."""
    images, targets = images_targets
    for name in ("tiny_retinanet", "tiny_fcos"):  # bgr_to_rgb=True (RGB mean/std) and caffe (BGR mean, std 1)
        det = build_detector(tiny(name), num_classes=NUM_CLASSES)
        batch = det._prepare(images, targets, training=True)
        pre = det.model.data_preprocessor
        mean, std = pre.mean.view(3, 1, 1), pre.std.view(3, 1, 1)
        expected = images[0] * 255.0
        if not pre._channel_conversion:  # caffe: the network sees BGR
            expected = expected.flip(0)
        torch.testing.assert_close(batch["inputs"][0, :, :96, :128], (expected - mean) / std)
        assert batch["data_samples"][0].gt_instances.labels.tolist() == [0, 2]
        torch.testing.assert_close(batch["data_samples"][0].gt_instances.bboxes, targets[0]["boxes"])
    with pytest.raises(ValueError, match="labels must be 1..K"):
        det._prepare(images, [{"boxes": torch.zeros(1, 4), "labels": torch.tensor([0])}] * 2, training=True)


def test_card_read_from_the_model():
    det = build_detector(tiny("tiny_faster_rcnn"), num_classes=NUM_CLASSES)
    card = det.card
    assert (card.backend, card.family, card.stages, card.kind) == ("mmdet", "faster_rcnn", 2, "two_stage")
    assert [(lv.name, lv.channels, lv.stride) for lv in card.levels] == [
        ("p2", 32, 4),
        ("p3", 32, 8),
        ("p4", 32, 16),
        ("p5", 32, 32),
        ("p6", 32, 64),
    ]
    assert card.params == sum(p.numel() for p in det.parameters())
    assert card.flops > 0 and card.flops_input == (256, 256) and card.weights == "random init"
    retina = build_detector(tiny("tiny_retinanet"), num_classes=NUM_CLASSES).card
    assert (retina.family, retina.stages, [lv.stride for lv in retina.levels]) == ("retinanet", 1, [8, 16, 32, 64, 128])
    fcos = build_detector(tiny("tiny_fcos"), num_classes=NUM_CLASSES).card
    assert fcos.family == "fcos" and [lv.name for lv in fcos.levels] == ["p3", "p4", "p5", "p6", "p7"]


def test_card_without_weights_equals_card_of_the_built_model(tmp_path, monkeypatch):
    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path))  # no cached card: measured on the meta device
    for name in TINY:
        built = build_detector(tiny(name), num_classes=NUM_CLASSES).card
        monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path / name))
        assert mmdet_card(tiny(name), num_classes=NUM_CLASSES) == built


def test_full_size_card_from_packaged_config():
    """RetinaNet R50 (COCO): 5 levels of 256 channels, ~38M parameters; pretrained init dropped, not downloaded."""
    card = mmdet_card(ModelConfig(name="mmdet:retinanet_r50_fpn_2x_coco"), num_classes=80)
    assert [lv.stride for lv in card.levels] == [8, 16, 32, 64, 128] and {lv.channels for lv in card.levels} == {256}
    assert 37e6 < card.params < 39e6 and card.flops_input == (800, 1344)
    assert "torchvision://resnet50" in card.notes
