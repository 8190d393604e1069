"""Validation PSNR during training: centre crops of the val split, and an optional benchmark set."""

from __future__ import annotations

from pathlib import Path

import torch

from sr.benchmark_sets import make_pair
from sr.evaluate import evaluate_set, shave_for
from sr.inference import upscale_tensor
from sr.metrics import psnr
from sr.models.liif import LIIF


def centre_crops(images: list[torch.Tensor], crop: int) -> list[torch.Tensor]:
    """Float ``(3, h, w)`` centre crops of at most ``crop`` x ``crop`` from uint8 images."""
    out = []
    for img in images:
        h, w = img.shape[-2:]
        ch, cw = min(h, crop), min(w, crop)
        top, left = (h - ch) // 2, (w - cw) // 2
        out.append(img[:, top : top + ch, left : left + cw].float() / 255.0)
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
