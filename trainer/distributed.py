"""DDP under torchrun: which process this is, and the few collectives the loop needs.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE (and MASTER_ADDR/PORT); without them this is a
single process and every helper here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_distributed(use_cuda: bool) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not torch_dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local_rank)
        torch_dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Dist(rank=rank, local_rank=local_rank, world=world)


def all_agree(flag: bool, dist: Dist, device: torch.device) -> bool:
    """True only if `flag` is true on every process (e.g. "this step's loss is finite")."""
    if not dist.enabled:
        return flag
    value = torch.tensor([1 if flag else 0], device=device)
    torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MIN)
    return bool(value.item())


def any_says(flag: bool, dist: Dist, device: torch.device) -> bool:
    """True if `flag` is true on some process (e.g. "rank 0 is out of time")."""
    return not all_agree(not flag, dist, device)


def barrier(dist: Dist) -> None:
    if dist.enabled:
        torch_dist.barrier()


def shutdown(dist: Dist) -> None:
    if dist.enabled and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
