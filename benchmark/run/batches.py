"""The training batch stream: which images, in which order, flipped or not.

One CPU generator decides everything (a fresh permutation per epoch, one flip draw per sample), so the
stream is a pure function of the run's seed and is resumed exactly from :meth:`BatchStream.state_dict`.
Batches run on across epoch ends (no sample is dropped; an epoch is not a unit of the schedule).

With ``groups`` (the mmdet protocol's aspect-ratio groups, :meth:`benchmark.data.coco.CocoDetection.aspect_groups`)
the stream is mmdet's ``AspectRatioBatchSampler`` over an ``InfiniteSampler``: each drawn sample (with its flip,
drawn at once) joins the bucket of its group, and a batch is a bucket that reached ``batch_size``; buckets carry
over epoch ends, so every batch is one group and full.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

Item = tuple[int, bool]  # (image index, hflip)


class BatchStream:
    """Yields ``[(index, hflip), ...]`` of ``batch_size`` samples from ``num_samples`` images."""

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        hflip: bool,
        generator: torch.Generator,
        groups: Sequence[int] | None = None,
    ) -> None:
        if num_samples < 1:
            raise ValueError("the training split has no images")
        if groups is not None and len(groups) != num_samples:
            raise ValueError(f"{len(groups)} aspect groups for {num_samples} images")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.hflip = hflip
        self.generator = generator
        self.groups = None if groups is None else list(groups)
        self.perm: list[int] = []
        self.pos = 0
        self.buckets: dict[int, list[Item]] = {}

    def _next_index(self) -> int:
        if self.pos >= len(self.perm):
            self.perm = torch.randperm(self.num_samples, generator=self.generator).tolist()
            self.pos = 0
        index = self.perm[self.pos]
        self.pos += 1
        return index

    def _next_item(self) -> Item:
        index = self._next_index()
        flip = bool(torch.rand((), generator=self.generator) < 0.5) if self.hflip else False
        return index, flip

    def next_batch(self) -> list[Item]:
        if self.groups is None:
            return [self._next_item() for _ in range(self.batch_size)]
        while True:
            item = self._next_item()
            bucket = self.buckets.setdefault(self.groups[item[0]], [])
            bucket.append(item)
            if len(bucket) == self.batch_size:
                del self.buckets[self.groups[item[0]]]
                return bucket

    def snapshot(self) -> dict[str, Any]:
        """The state now, cheaply: the permutation list is shared (it is replaced at an epoch end, never
        changed); :meth:`state_dict` of a later moment does not alter it."""
        state: dict[str, Any] = {"generator": self.generator.get_state(), "perm": self.perm, "pos": self.pos}
        if self.groups is not None:
            state["buckets"] = {int(g): [[i, f] for i, f in items] for g, items in self.buckets.items()}
        return state

    def state_dict(self) -> dict[str, Any]:
        return stream_state(self.snapshot())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.perm = list(state["perm"])
        self.pos = int(state["pos"])
        self.buckets = {int(g): [(int(i), bool(f)) for i, f in items] for g, items in state.get("buckets", {}).items()}


def stream_state(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A :meth:`BatchStream.snapshot` as a checkpoint entry (its own copy of the permutation)."""
    return {**snapshot, "perm": list(snapshot["perm"])}
