"""Process-group helpers: ``torchrun`` sets RANK/WORLD_SIZE/LOCAL_RANK; one process needs none."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from sr.devices import parse_device


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the job and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, validates and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def init_processes(device: str) -> ProcessInfo:
    """Join the process group if launched by ``torchrun`` (gloo on CPU, nccl on CUDA)."""
    dev = parse_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return ProcessInfo(0, 1, dev)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return ProcessInfo(dist.get_rank(), dist.get_world_size(), dev)


def all_sum(values: torch.Tensor, info: ProcessInfo) -> torch.Tensor:
    """Element-wise sum of ``values`` over processes (a copy; identity for one process)."""
    out = values.clone()
    if info.distributed:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def barrier(info: ProcessInfo) -> None:
    """Wait for every process (no-op for one)."""
    if info.distributed:
        dist.barrier()


def shutdown(info: ProcessInfo) -> None:
    """Leave the process group."""
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()
