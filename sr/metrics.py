"""Image-quality metrics as plain functions on float tensors in [0, 1]."""

from __future__ import annotations

import math

import torch

# ITU-R BT.601 luma weights for 8-bit studio range, as used by the SR benchmark tables. The +16
# offset cancels in a difference, so only the weights (over 256) matter.
BT601_Y = (65.738 / 256, 129.057 / 256, 25.064 / 256)


def psnr(
    sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0, test_y_channel: bool = True
) -> float:
    """PSNR in dB of ``sr`` against ``hr`` (both ``(3, H, W)``), borders shaved, on Y or RGB."""
    if sr.shape != hr.shape:
        raise ValueError(f"shape mismatch: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    diff = sr.double() - hr.double()
    if test_y_channel and diff.shape[0] == 3:
        diff = (diff * diff.new_tensor(BT601_Y).view(3, 1, 1)).sum(dim=0)
    if crop_border > 0:
        diff = diff[..., crop_border:-crop_border, crop_border:-crop_border]
    mse = float(diff.pow(2).mean())
    return math.inf if mse == 0 else -10.0 * math.log10(mse)
