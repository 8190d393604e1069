"""EDSR-baseline feature encoder (Lim et al. 2017) without the upsampling tail.

As in the LIIF release: 16 residual blocks of 64 channels, residual scale 1, no mean shift.
Parameter names follow the official checkpoint so its state dict loads unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=True)


class ResBlock(nn.Module):
    """conv-ReLU-conv with an identity skip."""

    def __init__(self, n_feats: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv3x3(n_feats, n_feats), nn.ReLU(True), _conv3x3(n_feats, n_feats)
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class EDSREncoder(nn.Module):
    """Image ``(B, 3, h, w)`` → latent features ``(B, n_feats, h, w)``."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0) -> None:
        super().__init__()
        self.n_resblocks = n_resblocks
        self.out_dim = n_feats
        self.head = nn.Sequential(_conv3x3(3, n_feats))
        blocks: list[nn.Module] = [ResBlock(n_feats, res_scale) for _ in range(n_resblocks)]
        blocks.append(_conv3x3(n_feats, n_feats))
        self.body = nn.Sequential(*blocks)

    @property
    def receptive_radius(self) -> int:
        """How many input pixels beyond a feature's own pixel can change it (one per 3x3 conv)."""
        return 2 * self.n_resblocks + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        return x + self.body(x)
