"""Shared test helpers for sr: tiny models and official weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sr.models.liif import LIIF, LIIFConfig
from sr.weights import WeightsError, load_model


def tiny_model(seed: int = 0, **overrides) -> LIIF:
    """A small randomly initialised LIIF (2 res-blocks, 16 features, 32-wide decoder)."""
    torch.manual_seed(seed)
    config = LIIFConfig(n_resblocks=2, n_feats=16, hidden_list=(32, 32, 32), **overrides)
    model = LIIF(config).eval()
    # Default init gives near-constant outputs; spread the weights so errors would show.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    return model


def official_model() -> LIIF:
    """The official LIIF-EDSR weights (``make test`` fetches them first)."""
    try:
        return load_model("official")
    except WeightsError as exc:  # pragma: no cover - make test always fetches them
        pytest.fail(f"official weights missing: {exc}")


def smooth_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random 8-bit RGB image (noise would make every upscaler look the same)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, h // 4), max(2, w // 4), 3), dtype=np.uint8)
    return np.array(Image.fromarray(small).resize((w, h), Image.BICUBIC))
