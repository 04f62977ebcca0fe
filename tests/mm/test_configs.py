"""``mmdet:`` names, builder options, weights: checkpoints (ours and mmdet's), inheriting, backbone init."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from benchmark.config import ConfigError, ModelConfig  # noqa: E402
from benchmark.distill.levels import match_levels  # noqa: E402
from benchmark.zoo import build_detector, get_card, known_model  # noqa: E402
from benchmark.zoo.mmdet.configs import resolve_config  # noqa: E402

from .conftest import NUM_CLASSES, tiny  # noqa: E402


def test_name_forms(tmp_path):
    by_stem = resolve_config("mmdet:retinanet_r50_fpn_2x_coco")
    by_folder = resolve_config("retinanet/retinanet_r50_fpn_2x_coco.py")
    assert by_stem.model == by_folder.model and by_stem.source == by_folder.source
    assert by_stem.dropped_init == ("backbone: torchvision://resnet50",)
    assert by_stem.model["backbone"]["init_cfg"] is None
    path = tmp_path / "my_retina.py"
    path.write_text(f"_base_ = '{by_stem.source}'\nmodel = dict(bbox_head=dict(num_classes=5))\n")
    own = resolve_config(f"mmdet:{path}")
    assert own.model["bbox_head"]["num_classes"] == 5 and own.model["type"] == "RetinaNet"
    assert known_model("mmdet:anything") and not known_model("no_such_model")


def test_unknown_names_and_bad_options():
    with pytest.raises(ConfigError, match="close: .*retinanet_r50_fpn_2x_coco"):
        resolve_config("mmdet:retinanet_r50_fpn_2x_coc")
    with pytest.raises(FileNotFoundError, match="no such config file"):
        resolve_config("mmdet:/nowhere/x.py")
    with pytest.raises(ConfigError) as err:
        resolve_config("mmdet:tiny_retinanet", {"num_classes": 0, "flops_input": [8], "fpn": 3})
    assert len(err.value.problems) == 3
    with pytest.raises(ConfigError, match="'backbone_checkpoint': no such file: /nowhere.pth"):
        resolve_config("mmdet:tiny_retinanet", {"backbone_checkpoint": "/nowhere.pth"})


def test_num_classes_reaches_every_head():
    cascade = resolve_config("mmdet:cascade-mask-rcnn_r50_fpn_1x_coco", num_classes=3).model
    assert [h["num_classes"] for h in cascade["roi_head"]["bbox_head"]] == [3, 3, 3]
    assert cascade["roi_head"]["mask_head"]["num_classes"] == 3
    forced = resolve_config("mmdet:tiny_retinanet", {"num_classes": 5}, num_classes=3).model
    assert forced["bbox_head"]["num_classes"] == 5  # the option wins over the data's class count


def test_cfg_overrides_change_the_card():
    card = build_detector(
        tiny("tiny_retinanet", cfg={"neck.out_channels": 16, "bbox_head.in_channels": 16}), num_classes=NUM_CLASSES
    ).card
    assert {lv.channels for lv in card.levels} == {16}


def test_levels_match_by_stride_across_back_ends():
    frcnn = get_card("mmdet:tiny_faster_rcnn")  # P2-P6
    retina = get_card("mmdet:tiny_retinanet")  # P3-P7
    assert [p.stride for p in match_levels(retina, frcnn)] == [8, 16, 32, 64]
    assert [(p.student.name, p.teacher.name) for p in match_levels(retina, frcnn)][0] == ("p3", "p3")
    tv = get_card("faster_rcnn_mnv2_fpn256")
    pairs = match_levels(retina, tv)
    assert pairs and all(p.student.stride == p.teacher.stride for p in pairs)


def _same_predictions(a, b, images):
    for x, y in zip(a.predict(images), b.predict(images)):
        torch.testing.assert_close(x["boxes"], y["boxes"])
        torch.testing.assert_close(x["scores"], y["scores"])


def test_checkpoints_ours_and_mmdet(tmp_path, images_targets):
    images, _ = images_targets
    torch.manual_seed(3)
    det = build_detector(tiny("tiny_retinanet"), num_classes=NUM_CLASSES)
    det.configure_inference(score_thresh=0.0, max_detections=20)
    ours = tmp_path / "model_final.pt"  # what our trainer writes
    torch.save({"model": det.state_dict(), "card": det.card.name, "options": {}}, ours)
    mm = tmp_path / "epoch_24.pth"  # what mmengine's Runner writes
    torch.save({"meta": {"seed": np.int64(0)}, "state_dict": det.model.state_dict()}, mm)
    for path in (ours, mm):
        torch.manual_seed(99)
        loaded = build_detector(ModelConfig(name="mmdet:tiny_retinanet", checkpoint=str(path)), num_classes=NUM_CLASSES)
        loaded.configure_inference(score_thresh=0.0, max_detections=20)
        assert loaded.card.weights == f"checkpoint {path}"
        _same_predictions(det, loaded, images)
    with pytest.raises(ValueError, match="shapes differ"):  # 3-class weights into a 5-class head
        build_detector(ModelConfig(name="mmdet:tiny_retinanet", checkpoint=str(mm)), num_classes=5)


def test_inheriting_strategy_copies_neck_and_head_only(tmp_path):
    torch.manual_seed(1)
    teacher = build_detector(tiny("tiny_retinanet"), num_classes=NUM_CLASSES)
    path = tmp_path / "teacher.pth"
    torch.save({"state_dict": teacher.model.state_dict()}, path)
    torch.manual_seed(2)
    student = build_detector(tiny("tiny_retinanet", inherit_from=str(path)), num_classes=NUM_CLASSES)
    t, s = teacher.model.state_dict(), student.model.state_dict()
    assert all(torch.equal(s[k], t[k]) for k in t if k.startswith(("neck.", "bbox_head.")))
    assert not torch.equal(s["backbone.conv1.weight"], t["backbone.conv1.weight"])
    assert "neck./bbox_head. from" in student.card.weights


def test_backbone_checkpoint_through_mmdet_init(tmp_path):
    torch.manual_seed(4)
    src = build_detector(tiny("tiny_retinanet"), num_classes=NUM_CLASSES).model.backbone
    path = tmp_path / "resnet_tiny.pth"
    torch.save(src.state_dict(), path)  # a bare ImageNet-style state dict of the backbone
    det = build_detector(tiny("tiny_retinanet", backbone_checkpoint=str(path)), num_classes=NUM_CLASSES)
    assert torch.equal(det.model.backbone.conv1.weight, src.conv1.weight)
    assert det.card.weights == f"backbone {path}"
