"""The training batch stream: which images, in which order, flipped or not.

One CPU generator decides everything (a fresh permutation per epoch, one flip draw per sample), so the
stream is a pure function of the run's seed and is resumed exactly from :meth:`BatchStream.state_dict`.
Batches run on across epoch ends (no sample is dropped; an epoch is not a unit of the schedule).
"""

from __future__ import annotations

from typing import Any

import torch


class BatchStream:
    """Yields ``[(index, hflip), ...]`` of ``batch_size`` samples from ``num_samples`` images."""

    def __init__(self, num_samples: int, batch_size: int, *, hflip: bool, generator: torch.Generator) -> None:
        if num_samples < 1:
            raise ValueError("the training split has no images")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.hflip = hflip
        self.generator = generator
        self.perm: list[int] = []
        self.pos = 0

    def _next_index(self) -> int:
        if self.pos >= len(self.perm):
            self.perm = torch.randperm(self.num_samples, generator=self.generator).tolist()
            self.pos = 0
        index = self.perm[self.pos]
        self.pos += 1
        return index

    def next_batch(self) -> list[tuple[int, bool]]:
        batch = []
        for _ in range(self.batch_size):
            index = self._next_index()
            flip = bool(torch.rand((), generator=self.generator) < 0.5) if self.hflip else False
            batch.append((index, flip))
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": list(self.perm), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.perm = list(state["perm"])
        self.pos = int(state["pos"])
