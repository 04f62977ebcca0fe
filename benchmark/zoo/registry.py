"""The detector registry: each builder registers itself with its model card where it is defined
(``@register_model(CARD)``, as torchvision's ``@register_model``); :mod:`benchmark.zoo` imports the builder
modules so that importing the zoo fills ``MODELS``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from benchmark.registry import Registry
from benchmark.zoo.card import ModelCard

if TYPE_CHECKING:
    from benchmark.zoo.base import Detector

B = TypeVar("B", bound=Callable[..., "Detector"])


@dataclass(frozen=True)
class ModelEntry:
    card: ModelCard
    builder: Callable[..., Detector]


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(card: ModelCard) -> Callable[[B], B]:
    """Builder decorator: register ``builder`` under ``card.name`` with its card."""

    def wrap(builder: B) -> B:
        MODELS.register(card.name, ModelEntry(card, builder))
        return builder

    return wrap
