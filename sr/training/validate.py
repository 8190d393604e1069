"""Validation PSNR during training: crops of the val split, and an optional benchmark set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from sr.benchmark_sets import make_pair
from sr.evaluate import evaluate_set, shave_for
from sr.inference import upscale_tensor
from sr.metrics import psnr
from sr.models.liif import LIIF


def _detail(img: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels (all channels) of a uint8 crop."""
    x = img.float()
    return float((x[:, 1:] - x[:, :-1]).abs().mean() + (x[:, :, 1:] - x[:, :, :-1]).abs().mean())


def validation_crops(
    images: dict[str, torch.Tensor], crop: int, note: Callable[[str], None] | None = None
) -> list[torch.Tensor]:
    """Float ``(3, h, w)`` crops of at most ``crop`` x ``crop`` from uint8 images (by name): of
    the centre window and the eight windows at the image's corners and edge midpoints, the one
    with the most detail (the centre on ties).

    Why not simply the centre: clip art, icons and diagrams often have an empty centre, and a
    crop without detail says nothing about upscaling while its PSNR (60-100 dB, as near-zero
    errors go) swings by 10 dB between two checkpoints and drowns the mean of the others. An
    image without any detail is left out (with a ``note``).
    """
    out = []
    for name, img in images.items():
        h, w = img.shape[-2:]
        ch, cw = min(h, crop), min(w, crop)
        tops = dict.fromkeys(((h - ch) // 2, 0, h - ch))  # centre first, duplicates dropped
        lefts = dict.fromkeys(((w - cw) // 2, 0, w - cw))
        windows = [img[:, t : t + ch, x : x + cw] for t in tops for x in lefts]
        # scored once each; max keeps the first (the centre) on ties
        detail, best = max(((_detail(w), w) for w in windows), key=lambda scored: scored[0])
        if detail == 0:
            if note is not None:
                note(f"{name}: not validated on (one flat colour)")
            continue
        out.append(best.float() / 255.0)
    return out


@torch.no_grad()
def validate_images(
    model: LIIF, hr_images: list[torch.Tensor], scales: tuple[float, ...]
) -> dict[float, float]:
    """Mean Y-PSNR per scale: LR made by the official bicubic downsampling, shave = scale."""
    results = {}
    for scale in scales:
        values = []
        for hr in hr_images:
            lr, hr_cut = make_pair(hr, scale)
            sr = upscale_tensor(model, lr, tuple(hr_cut.shape[-2:])).clamp_(0, 1)
            values.append(psnr(sr, hr_cut, crop_border=shave_for(scale), test_y_channel=True))
        results[scale] = sum(values) / len(values)
    return results


@torch.no_grad()
def validate_benchmark(model: LIIF, set_dir: Path, scales: tuple[float, ...]) -> dict[float, float]:
    """``sr eval``'s PSNR on a benchmark set at each scale."""
    return {s: evaluate_set(model, Path(set_dir), s).psnr for s in scales}
