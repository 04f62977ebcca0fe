"""Measure the card numbers of the zoo: ``python -m benchmark.zoo.measure`` prints each builder's ``_METRICS``.

FLOPs: one inference forward of one random image (seeded) at the card's input size, counted by
``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add = 2 FLOPs; convolutions, linear layers and
matrix products; RoIAlign, NMS and element-wise ops count 0). Two-stage detectors run their RoI head on the
RPN's test proposals (1000 with a random-init model), so their count includes that head at 1000 RoIs.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmark.zoo.base import Detector
from benchmark.zoo.torchvision_detector import count_params


def measure_flops(detector: Detector, input_hw: tuple[int, int], *, seed: int = 0) -> float:
    """FLOPs of ``detector``'s inference forward on one seeded random image of ``input_hw`` (h, w)."""
    image = torch.rand(3, *input_hw, generator=torch.Generator().manual_seed(seed))
    was_training = detector.training
    detector.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            detector.predict([image.to(detector.device)])
    finally:
        detector.train(was_training)
    return float(counter.get_total_flops())


def build_reference(name: str) -> Detector:
    """The build a card describes: default options, random trunk, ``torch.manual_seed(0)``, card's classes."""
    from benchmark.zoo import MODELS

    entry = MODELS.get(name)
    torch.manual_seed(0)
    return entry.builder(num_classes=int(entry.card.extra["num_classes"]), pretrained_backbone=False)


def main() -> None:
    from benchmark.zoo import MODELS

    torch.set_num_threads(1)
    for name in MODELS.names():
        card = MODELS.get(name).card
        detector = build_reference(name)
        flops = measure_flops(detector, card.flops_input)
        print(f"{name}: params={count_params(detector)} flops={flops:.6g} at {card.flops_input}")


if __name__ == "__main__":
    main()
