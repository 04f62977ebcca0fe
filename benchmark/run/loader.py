"""Training batches: the seeded batch stream decides every (image, flip), DataLoader workers only load them.

:class:`TrainBatches` hands the trainer this rank's share of each global batch of the
:class:`~benchmark.run.batches.BatchStream`. With ``train.num_workers`` 0 the main process decodes and resizes
the samples between steps (as every run before workers existed). With N > 0 a ``torch.utils.data.DataLoader``
runs N worker processes: its batch sampler (in the main process) draws the plans from the stream, ahead of the
training by up to ``prefetch_factor x N`` batches, and the workers turn each plan into a collated
:class:`~benchmark.data.coco.Batch` (pinned memory when the run trains on a GPU), returned in order. A sample is
a pure function of ``(index, flip)`` (:meth:`~benchmark.data.coco.CocoDetection.get`), so the batches, hence the
run, are the same with any number of workers (bit for bit on the CPU: ``tests/run/test_loader.py``).

Resume: the stream runs ahead of the training, so a checkpoint holds the stream's state *after the last batch
the trainer received* (a snapshot taken when the sampler drew it), not its state now; a resumed run draws the
same next batch as an uninterrupted one.
"""

from __future__ import annotations

import collections
import signal
from collections.abc import Iterator
from typing import Any

import torch

from benchmark.data.coco import Batch, CocoDetection, Sample, collate
from benchmark.run.batches import BatchStream, Item, stream_state
from benchmark.run.distributed import SINGLE, DistContext, shard


def _ignore_stop_signals(_worker_id: int) -> None:
    """A worker outlives SIGTERM/SIGINT sent to the whole process group (torchrun, Slurm, Ctrl-C): the trainer
    stops at its next iteration, saves ``last.pt`` and then shuts its workers down (a worker whose trainer died
    exits by itself, torch's watchdog)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Samples(torch.utils.data.Dataset):
    """The dataset as the workers see it: ``(index, hflip)`` -> :class:`Sample`."""

    def __init__(self, dataset: CocoDetection) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: Item) -> Sample:
        index, hflip = item
        return self.dataset.get(index, hflip)


class _Plans(torch.utils.data.Sampler):
    """The batch sampler: this rank's share of each next global batch, with the stream's snapshot after it."""

    def __init__(self, stream: BatchStream, dist: DistContext, snapshots: collections.deque) -> None:
        self.stream, self.dist, self.snapshots = stream, dist, snapshots

    def __iter__(self) -> Iterator[list[Item]]:
        while True:
            plan = shard(self.stream.next_batch(), self.dist)
            self.snapshots.append(self.stream.snapshot())
            yield plan


class TrainBatches:
    """This rank's training batches (on the CPU) from ``stream`` over ``dataset``; see the module docstring."""

    def __init__(
        self,
        dataset: CocoDetection,
        stream: BatchStream,
        *,
        dist: DistContext = SINGLE,
        workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int = 2,
    ) -> None:
        self.dataset, self.stream, self.dist = dataset, stream, dist
        self.workers, self.pin_memory, self.prefetch_factor = workers, pin_memory, prefetch_factor
        self._snapshots: collections.deque = collections.deque()
        self._iter: Iterator[Batch] | None = None
        self._consumed: dict[str, Any] | None = None  # stream snapshot after the last batch handed out

    def next(self) -> Batch:
        """The next batch of this rank."""
        if self.workers == 0:
            return collate([self.dataset.get(i, hflip=f) for i, f in shard(self.stream.next_batch(), self.dist)])
        if self._iter is None:
            self._consumed = self.stream.snapshot()
            loader = torch.utils.data.DataLoader(
                _Samples(self.dataset),
                batch_sampler=_Plans(self.stream, self.dist, self._snapshots),
                num_workers=self.workers,
                collate_fn=collate,
                pin_memory=self.pin_memory,
                prefetch_factor=self.prefetch_factor,
                worker_init_fn=_ignore_stop_signals,
            )
            self._iter = iter(loader)
        batch = next(self._iter)
        self._consumed = self._snapshots.popleft()
        return batch

    def state_dict(self) -> dict[str, Any]:
        """The stream's state after the last batch handed out (what resumes the run exactly)."""
        return self.stream.state_dict() if self._consumed is None else stream_state(self._consumed)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self._iter is not None:
            raise RuntimeError("the training batches are already being loaded: restore the stream before the first")
        self.stream.load_state_dict(state)

    def close(self) -> None:
        """Stop the workers; a later :meth:`next` starts new ones where the last handed-out batch left the stream."""
        if self._iter is not None:
            consumed = self.state_dict()
            self._iter = None  # the DataLoader iterator shuts its workers down when it is collected
            self._snapshots.clear()
            self._consumed = None
            self.stream.load_state_dict(consumed)
