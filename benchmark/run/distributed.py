"""Multi-process (DDP) training: the process group of a run with ``train.processes > 1``.

A run asks for ``train.processes`` processes; they are started by ``torchrun``
(:func:`launch_command`, what the sweep's worker and ``dfmsd-bench train`` use on one
machine) or by submitit's tasks on Slurm (one task per process, :class:`benchmark.launch.executors.RunJob`).
Each process finds its rank in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``/``MASTER_PORT``), joins the group (``nccl`` on GPUs, ``gloo`` on CPUs) and trains on its
share of every batch:

* ``train.batch_size`` is the GLOBAL batch (Detectron2's ``IMS_PER_BATCH`` convention), so a run's recipe
  (learning rate, iterations, images seen) does not change with the number of processes. Every rank draws
  the same global batch from the run's seeded stream and keeps items ``rank::world`` (:func:`shard`).
* The student and the criteria's learnable parts are one ``DistributedDataParallel`` module: gradients are
  averaged over ranks, so every rank holds the same weights after each step.
* Per-rank seeding: the distillation losses' random masks come from a generator seeded per rank; model
  initialisation uses the run seed on every rank (and DDP broadcasts rank 0's weights anyway).
* Only rank 0 writes the run record, checkpoints and W&B; other ranks log to ``log.rank<r>.txt``.
* Evaluation is sharded the same way and the detections are gathered on rank 0 for ``COCOeval``.

Single-process runs never touch ``torch.distributed``: :data:`SINGLE` is the context they use.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as torch_dist

from benchmark.config import ConfigError
from benchmark.run.torchrun import launch_command

T = TypeVar("T")
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT = datetime.timedelta(minutes=60)  # a teacher-cache build on rank 0 happens while the others wait


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in its run's process group (``world_size == 1``: no group)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: T) -> list[T]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(out, obj)
        return out

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean over ranks of a 1-d float tensor (a non-finite value anywhere stays so)."""
        if not self.enabled:
            return values
        values = values.clone()
        torch_dist.all_reduce(values, op=torch_dist.ReduceOp.SUM)
        return values / self.world_size

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (a collective: every rank must call it)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
        torch_dist.all_reduce(t, op=torch_dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def close(self) -> None:
        if self.enabled and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


SINGLE = DistContext()


def _collective_device() -> torch.device:
    if torch_dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def env_world_size(environ: dict[str, str] | None = None) -> int:
    return int((os.environ if environ is None else environ).get("WORLD_SIZE", "1"))


def init_distributed(processes: int, device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the run's process group when ``processes > 1``; returns the context and this rank's device.

    Raises :class:`ConfigError` when the launch does not match the config (``WORLD_SIZE`` differs from
    ``train.processes``, or a multi-process run was started as one plain process).
    """
    world = env_world_size()
    if processes <= 1:
        if world > 1:
            raise ConfigError([f"train.processes: 1, but launched with WORLD_SIZE={world}; set train.processes"])
        return SINGLE, device
    if world != processes:
        if world == 1:
            raise ConfigError(
                [
                    f"train.processes: {processes} needs a distributed launch: "
                    f"{' '.join(launch_command(processes, 'benchmark.run.train'))} --run-dir DIR "
                    "(dfmsd-bench train/run do this)"
                ]
            )
        raise ConfigError([f"train.processes: {processes}, but launched with WORLD_SIZE={world}"])
    missing = [k for k in ENV_KEYS if k not in os.environ]
    if missing:
        raise ConfigError([f"train.processes: {processes}: the launcher did not set {', '.join(missing)}"])
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend=backend, timeout=TIMEOUT)
    return DistContext(rank=rank, world_size=world, local_rank=local_rank), device


def shard(items: Sequence[T], ctx: DistContext) -> list[T]:
    """This rank's share of ``items``: ``items[rank::world]`` (all of them without a group)."""
    return list(items[ctx.rank :: ctx.world_size])
