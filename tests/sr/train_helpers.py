"""Shared helpers for the trainer tests: tiny configs and generated image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sr.models.liif import LIIFConfig
from sr.training.config import DataConfig, OptimConfig, TrainConfig, ValConfig
from sr.training.distributed import ProcessInfo

CPU = ProcessInfo(rank=0, world_size=1, device=torch.device("cpu"))


def tiny_train_config(**overrides) -> TrainConfig:
    """1 res-block, 8 features, 16-wide decoder, 12-px LR patches, 32 queries, batch 4."""
    base = dict(
        model=LIIFConfig(n_resblocks=1, n_feats=8, hidden_list=(16, 16)),
        data=DataConfig(lr_patch=12, scale_max=4.0, sample_q=32, repeat=1, val_fraction=0.25),
        optim=OptimConfig(batch_size=4, lr=1e-3),
        val=ValConfig(every=1000, scales=(2.0, 3.0), crop=24, max_images=1, at_start=False),
        init="none",
        checkpoint_every=1000,
        log_every=1,
    )
    base.update(overrides)
    return TrainConfig(**base)


def make_image_folder(folder: Path, n: int = 8, size: tuple[int, int] = (56, 60)) -> Path:
    """``n`` smooth random RGB PNGs (``size`` = (h, w)) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.random((size[0] // 8 + 1, size[1] // 8 + 1, 3))
        img = Image.fromarray((small * 255).astype(np.uint8)).resize(
            (size[1], size[0]), Image.BICUBIC
        )
        img.save(folder / f"img{i:02d}.png")
    return folder
