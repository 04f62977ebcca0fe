"""Which levels meet: FPN levels of a student and a teacher paired by stride from their model cards, never by
list position, so heterogeneous pairs (different channels, different level sets) work."""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.zoo.card import FPNLevel, ModelCard


class UnmatchablePairError(ValueError):
    """A student and a teacher whose FPNs share no stride."""


@dataclass(frozen=True)
class LevelPair:
    student: FPNLevel
    teacher: FPNLevel

    @property
    def stride(self) -> int:
        return self.student.stride


def _by_stride(card: ModelCard) -> dict[int, FPNLevel]:
    out: dict[int, FPNLevel] = {}
    for level in card.levels:
        if level.stride in out:
            raise ValueError(f"model card {card.name}: levels {out[level.stride].name} and {level.name} share stride")
        out[level.stride] = level
    return out


def match_levels(student: ModelCard, teacher: ModelCard) -> list[LevelPair]:
    """Pairs of FPN levels with equal stride, finest first."""
    s, t = _by_stride(student), _by_stride(teacher)
    shared = sorted(set(s) & set(t))
    if not shared:
        raise UnmatchablePairError(
            f"cannot distil {teacher.name} into {student.name}: no shared FPN stride "
            f"(student strides {sorted(s)}, teacher strides {sorted(t)})"
        )
    return [LevelPair(s[stride], t[stride]) for stride in shared]
