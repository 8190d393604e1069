"""Pixel-centre coordinates and cell sizes in LIIF's [-1, 1] convention.

Row coordinates come first (``[..., 0]`` is y, ``[..., 1]`` is x), as in the LIIF paper's code.
"""

from __future__ import annotations

import torch


def axis_centres(n: int) -> torch.Tensor:
    """Centres of ``n`` equal cells covering [-1, 1], shape ``(n,)`` float32."""
    radius = 1.0 / n
    return -1.0 + radius + (2.0 * radius) * torch.arange(n).float()


def make_coord(shape: tuple[int, int], flatten: bool = True) -> torch.Tensor:
    """Grid of pixel-centre coordinates: ``(H*W, 2)`` if flatten else ``(H, W, 2)``."""
    ys, xs = axis_centres(shape[0]), axis_centres(shape[1])
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)
    return grid.view(-1, 2) if flatten else grid


def make_cell(shape: tuple[int, int], n: int) -> torch.Tensor:
    """Cell size (2/H, 2/W) of an ``shape`` output grid, repeated for ``n`` queries: ``(n, 2)``."""
    cell = torch.ones(n, 2)
    cell[:, 0] *= 2 / shape[0]
    cell[:, 1] *= 2 / shape[1]
    return cell


def to_pixel_samples(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split an image ``(3, H, W)`` into coordinates ``(H*W, 2)`` and colours ``(H*W, 3)``."""
    coord = make_coord(tuple(img.shape[-2:]))
    rgb = img.reshape(img.shape[0], -1).permute(1, 0)
    return coord, rgb
