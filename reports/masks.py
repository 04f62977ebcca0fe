"""Inputs of :func:`reports.plots.plot_masks` from a finished DFMSD (or DMKD) run.

Rebuilds what the run had at its end: the student from ``checkpoints/model_final.pt``, the last stage's
teacher (the same weights the trainer resolved), and the per-level criteria from ``checkpoints/last.pt``
with the options of that stage. One test image passes through both detectors' FPNs and the criteria in
eval mode; each level's ``DFMSDLoss.last_masks`` gives the kept spatial mask (1 kept, 0 masked), the channel
mask and the spatial attention after enhancement (the test image is passed in a batch of the run's batch
size, so that batch statistics match training). The teacher spatial attention before enhancement and
the channel attention are :func:`baselines.fgd.attention_maps` of the teacher map as the criterion saw it
(PKD-standardised first when ``sem_align='pkd'`` runs before the masks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from benchmark.config import run_config_from_dict
from benchmark.data.coco import to_float
from reports.methods import method_name
from reports.style import pair_label


@dataclass(frozen=True)
class MaskInputs:
    image: Tensor  # (3, h, w) in [0, 1]
    boxes: Tensor  # (n, 4) xyxy, input pixels
    per_level: dict[str, dict[str, Tensor]]
    title: str


def mask_inputs_from_run(
    run_dir: str | Path, *, image_index: int = 0, device: str = "cpu", progress: bool = False
) -> MaskInputs:
    """Teacher attention, enhanced attention, spatial mask and channel attention per FPN level for test image
    ``image_index`` of a finished run of a method whose criterion records ``last_masks`` (dfmsd, dmkd)."""
    from baselines.fgd import attention_maps
    from baselines.pkd import channel_standardize
    from benchmark.checkpoints import load_torch_file
    from benchmark.data import build_dataset
    from benchmark.distill.methods import get_method
    from benchmark.run.build import build_criterion, build_teacher, teacher_weights
    from benchmark.run.resolve import resolve
    from benchmark.zoo import build_detector, load_checkpoint

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no config.yaml)")
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    raw.pop("run_id", None)
    cfg = run_config_from_dict(raw, str(config_path))
    method = get_method(cfg.distill.method)
    last = run_dir / "checkpoints" / "last.pt"
    final = run_dir / "checkpoints" / "model_final.pt"
    for path in (last, final):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (the mask figure needs a finished run)")
    state = load_torch_file(last)
    stage_index = int(state.get("stage", 0))
    run = resolve(cfg)
    if not run.stages:
        raise ValueError(f"{config_path}: distill.method {cfg.distill.method!r} has no teacher: no masks to show")
    stage = run.stages[stage_index]

    test_set = build_dataset(cfg.data, "test", progress=progress)
    sample = test_set[image_index]
    student = build_detector(cfg.model, num_classes=test_set.num_classes)
    load_checkpoint(student, final)
    weights = teacher_weights(stage, run_dir.parent)
    teacher = build_teacher(stage, weights, num_classes=test_set.num_classes, device=torch.device("cpu"))
    criterion = build_criterion(run, stage, student.card, teacher.card)
    criterion.load_state_dict(state["criterion"])
    first = next(iter(criterion.criteria.values()))
    if not hasattr(first, "last_masks"):
        raise ValueError(f"{config_path}: method {method.name!r} records no masks (use a dfmsd or dmkd run)")

    dev = torch.device(device)
    student, teacher, criterion = student.to(dev).eval(), teacher.to(dev), criterion.to(dev).eval()
    # A batch of the run's batch size (the shown image first): batch statistics (PKD standardisation over
    # N, H, W) then match training, and a 1x1 level is not degenerate.
    batch = [sample] + [test_set[(image_index + k) % len(test_set)] for k in range(1, max(1, cfg.train.batch_size))]
    images = [to_float(s.image.to(dev)) for s in batch]
    boxes = [s.target["boxes"].to(dev) for s in batch]
    generator = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        feats_s = student.extract_features(images)
        feats_t = teacher.extract_features(images)
        criterion(feats_s.features, feats_t.features, boxes, feats_s.img_metas, generator=generator)
    per_level: dict[str, dict[str, Tensor]] = {}
    for pair in criterion.pairs:
        crit = criterion.criteria[pair.student.name]
        masks = crit.last_masks
        seen = feats_t.features[pair.teacher.name].detach()
        if getattr(crit, "sem_align", "none") == "pkd" and getattr(crit, "align_position", "") == "before":
            seen = channel_standardize(seen)
        att_s, att_c = attention_maps(seen, crit.temp)
        # the shown image's valid cells (the batch is padded to its largest image)
        (h, w), (ph, pw) = feats_s.img_metas[0]["img_shape"], feats_s.img_metas[0]["pad_shape"]
        rows, cols = math.ceil(att_s.shape[-2] * h / ph), math.ceil(att_s.shape[-1] * w / pw)
        kept = masks["spatial"][0, 0] if "spatial" in masks else torch.ones_like(att_s[0])
        level: dict[str, Any] = {
            "attention_spatial": att_s[0, :rows, :cols].cpu(),
            "attention_enhanced": masks["attention_spatial"][0, :rows, :cols].cpu(),
            "mask_spatial": kept[:rows, :cols].cpu(),
            "attention_channel": att_c[0].cpu(),
        }
        if "channel" in masks:
            level["mask_channel"] = masks["channel"][0].reshape(-1).cpu()
        per_level[pair.student.name] = level
    teacher_names = "→".join(s.teacher.model.name for s in run.stages)
    title = f"{method_name(method.name)}, seed {cfg.seed}, test image {sample.image_id}\n"
    title += pair_label(teacher_names, cfg.model.name)
    return MaskInputs(image=to_float(sample.image), boxes=sample.target["boxes"], per_level=per_level, title=title)
