"""The same detector behaviour on a GPU (skipped where CUDA is absent, as in CI)."""

import pytest
import torch

from benchmark.distill.loss import DistillLoss
from benchmark.distill.methods import get_method

from .conftest import NUM_CLASSES, batch, tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_train_predict_extract_and_distill_on_cuda(model_name):
    device = torch.device("cuda")
    detector = tiny(model_name).to(device).train()
    images, targets = batch()
    images = [im.to(device) for im in images]
    targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
    losses, fb = detector.forward_train(images, targets)
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(f.device.type == "cuda" for f in fb.features.values())
    kd = DistillLoss(get_method("mimic"), detector.card, detector.card, {}).to(device)
    teacher_feats = {k: v.detach() + 1 for k, v in fb.features.items()}
    total = sum(losses.values()) + DistillLoss.total(kd(fb.features, teacher_feats, [], fb.img_metas))
    total.backward()
    detector.eval()
    with torch.no_grad():
        direct = detector.extract_features(images)
    for name, f in direct.features.items():
        torch.testing.assert_close(fb.features[name].detach(), f, rtol=1e-4, atol=1e-4)
    detector.configure_inference(score_thresh=0.0, max_detections=5)
    for det in detector.predict(images):
        assert det["boxes"].device.type == "cuda" and 0 < len(det["boxes"]) <= 5
        assert set(det["labels"].tolist()) <= set(range(1, NUM_CLASSES + 1))
