"""Joining a Ray cluster and sizing the Ray Data actor pool that embedding and generation use.

``curator.ray_embed`` and ``curator.ray_generate`` run their model in actors; this module owns
how the driver connects, how many actors there are, what each one asks for, and how an actor's
per-row error column becomes one line for the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from curator.errors import CuratorError


def connect(ray: str | bool) -> None:
    """Join the Ray cluster whose address is ``ray`` (``True``: ``RAY_ADDRESS``, else a local
    Ray); a connection this process already has is reused."""
    try:
        import ray as ray_module
    except ImportError:
        raise CuratorError(
            "--ray needs Ray Data: pip install 'ray[data]' (the same version on every node)"
        ) from None
    if not ray_module.is_initialized():
        ray_module.init(address=ray if isinstance(ray, str) else None, log_to_driver=False)


@dataclass(frozen=True)
class ActorPool:
    """What ``Dataset.map_batches`` needs for a pool of model actors, and the device each
    actor uses (``cuda`` inside an actor: Ray shows it only its own GPU)."""

    device: str
    options: dict[str, Any]


def actor_pool(device: str, work_items: int) -> ActorPool:
    """Up to one actor per CPU (one thread each) or, for a ``cuda`` device, one per GPU; never
    more actors than ``work_items``. Refuses a GPU device on a cluster without GPUs."""
    import ray

    gpus = device.startswith("cuda")
    resources = ray.cluster_resources()
    count = int(resources.get("GPU" if gpus else "CPU", 0))
    if count < 1:
        kind = "GPUs" if gpus else "CPUs"
        raise CuratorError(f"the Ray cluster has no {kind} for device {device!r}")
    size = max(1, min(count, work_items))
    options = {
        "compute": ray.data.ActorPoolStrategy(min_size=1, max_size=size),
        "num_gpus": 1 if gpus else 0,
        "num_cpus": 0 if gpus else 1,
        "batch_format": "numpy",
    }
    return ActorPool("cuda" if gpus else device, options)


def start_actor(device: str) -> None:
    """In a new actor: one torch thread on a CPU (the pool has one actor per CPU; more threads
    would oversubscribe)."""
    if device == "cpu":
        import torch

        torch.set_num_threads(1)


def raise_errors(batch: dict[str, np.ndarray], what: str) -> None:
    """A batch's first ``error`` line (set by an actor for a row it could not do) as one
    ``CuratorError``; Ray's own wrapping of a raised error buries it in a page of trace."""
    failed = [str(e) for e in batch["error"] if e]
    if failed:
        raise CuratorError(f"{what} on Ray failed: {failed[0]}")
