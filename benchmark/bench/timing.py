"""Interleaved timing: every case runs once per round, in turn, so load drifts hit all cases alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Spread:
    """Median with its spread over rounds: quartiles and extremes."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no measurements")
        xs = sorted(values)
        q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else (xs[0],) * 3
        return cls(med, q1, q3, xs[0], xs[-1], len(xs))

    def text(self, fmt: str = "{:.3f}") -> str:
        """``median [q1-q3, min-max]``."""
        f = fmt.format
        return f"{f(self.median)} [{f(self.q1)}-{f(self.q3)}, {f(self.min)}-{f(self.max)}]"

    def to_dict(self) -> dict[str, float]:
        return {"median": self.median, "q1": self.q1, "q3": self.q3, "min": self.min, "max": self.max, "n": self.n}


def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(
    cases: Mapping[str, Callable[[], object]], *, warmup: int, rounds: int, device: torch.device | str = "cpu"
) -> dict[str, list[float]]:
    """Seconds per call of each case over ``rounds`` measured rounds, after ``warmup`` unmeasured ones."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(warmup + rounds):
        for name, fn in cases.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def round_ratios(num: Sequence[float], *dens: Sequence[float]) -> list[float]:
    """Per-round ``num / sum(dens)`` (cases of one round ran back to back under the same load)."""
    return [n / sum(d) for n, *d in zip(num, *dens)]
