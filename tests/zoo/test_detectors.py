"""Behaviour of the torchvision-back-end detectors on tiny variants."""

import math

import pytest
import torch

from benchmark.distill.loss import DistillLoss
from benchmark.distill.methods import get_method

from .conftest import NUM_CLASSES, batch, tiny


def test_forward_train_losses_and_features_match_the_card(model_name):
    detector = tiny(model_name).train()
    images, targets = batch()
    losses, fb = detector.forward_train(images, targets)
    assert losses and all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    assert list(fb.features) == [lv.name for lv in detector.card.levels]
    assert fb.img_metas == [
        {"img_shape": (96, 128), "pad_shape": (128, 128)},
        {"img_shape": (120, 80), "pad_shape": (128, 128)},
    ]
    for level in detector.card.levels:
        f = fb.features[level.name]
        assert f.shape == (2, level.channels, 128 // level.stride, 128 // level.stride)
        assert f.requires_grad  # same pass as the losses: usable by a distillation loss
    sum(losses.values()).backward()
    assert detector.model.backbone.fpn.layer_blocks[0][0].weight.grad is not None


def test_targets_are_not_modified(model_name):
    detector = tiny(model_name).train()
    images, targets = batch()
    detector.forward_train(images, targets)
    assert targets[0]["labels"].tolist() == [1, 2]


def test_hook_features_equal_extract_features_in_eval_mode(model_name):
    detector = tiny(model_name).train()
    images, targets = batch()
    _, hooked = detector.forward_train(images, targets)
    detector.eval()
    with torch.no_grad():
        direct = detector.extract_features(images)
    assert direct.img_metas == hooked.img_metas
    for name, f in direct.features.items():
        torch.testing.assert_close(hooked.features[name].detach(), f, rtol=0, atol=0)


def test_predict_boxes_labels_and_inference_settings(model_name):
    detector = tiny(model_name).train()
    images, _ = batch()
    detector.configure_inference(score_thresh=0.0, max_detections=7)
    out = detector.predict(images)
    assert detector.training  # mode restored
    for det, img in zip(out, images):
        h, w = img.shape[-2:]
        assert 0 < len(det["boxes"]) <= 7 and det["boxes"].shape[1] == 4
        assert det["boxes"][:, 0::2].max() <= w and det["boxes"][:, 1::2].max() <= h
        assert set(det["labels"].tolist()) <= set(range(1, NUM_CLASSES + 1))
    detector.configure_inference(score_thresh=1.0, max_detections=7)
    assert all(len(d["boxes"]) == 0 for d in detector.predict(images))


def test_forward_train_refuses_eval_mode():
    detector = tiny("fcos_mnv2_fpn64").eval()
    with pytest.raises(RuntimeError, match="training mode"):
        detector.forward_train(*batch())


def test_one_stage_heads_have_no_background_logit():
    assert tiny("retinanet_mnv2_fpn64").model.head.classification_head.num_classes == NUM_CLASSES
    assert tiny("fcos_mnv2_fpn64").model.head.classification_head.num_classes == NUM_CLASSES
    assert tiny("faster_rcnn_mnv2_fpn256").model.roi_heads.box_predictor.cls_score.out_features == NUM_CLASSES + 1


def test_frozen_blocks_and_variant_card():
    detector = tiny("retinanet_mnv2_fpn64", frozen_blocks=4)
    trunk = detector.model.backbone.body
    assert not any(p.requires_grad for i in range(4) for p in trunk[str(i)].parameters())
    assert all(p.requires_grad for p in trunk["4"].parameters())
    assert {lv.channels for lv in detector.card.levels} == {32}
    assert math.isnan(detector.card.flops) and "variant" in detector.card.notes


def test_teacher_frozen_through_a_student_step():
    teacher = tiny("faster_rcnn_mnv2_fpn256").freeze()
    student = tiny("retinanet_mnv2_fpn64").train()
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    kd = DistillLoss(get_method("mimic"), student.card, teacher.card, {"loss_weight": 1.0})
    trainable = [p for p in student.parameters() if p.requires_grad] + list(kd.parameters())
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    images, targets = batch()
    feats_t = teacher.extract_features(images)
    losses, feats_s = student.forward_train(images, targets)
    total = sum(losses.values()) + DistillLoss.total(kd(feats_s.features, feats_t.features, [], feats_s.img_metas))
    total.backward()
    optimizer.step()
    assert all(p.grad is None for p in teacher.parameters())
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


def test_image_without_boxes_trains(model_name):
    detector = tiny(model_name).train()
    images, targets = batch()
    targets[1] = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    losses, _ = detector.forward_train(images, targets)
    assert all(torch.isfinite(v) for v in losses.values())


def test_call_is_forward_train():
    detector = tiny("retinanet_mnv2_fpn64").train()
    losses, fb = detector(*batch())
    assert set(losses) == {"classification", "bbox_regression"} and list(fb.features) == ["p3", "p4", "p5", "p6"]
