"""One training sample, as the paper's ``SRImplicitDownsampled`` wrapper makes it.

A scale s ~ U[scale_min, scale_max]; an HR crop of side round(lr_patch * s) at a random place;
the LR patch is its bicubic downsample to lr_patch (PIL, uint8, like the official ``resize_fn``);
both get the same random flips and transposition; ``sample_q`` HR pixels are drawn without
replacement, each with its centre coordinate and the cell size 2 / HR side.

Randomness comes from one ``torch.Generator`` per sample, seeded from (run seed, sample number):
a sample never depends on which process or worker builds it, which is what makes resume and
multi-process training reproduce single-process runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sr.benchmark_sets import downsample_bicubic
from sr.coords import make_cell, to_pixel_samples


@dataclass(frozen=True)
class PatchParams:
    """The random choices behind one sample."""

    scale: float
    hr_size: int
    top: int
    left: int
    hflip: bool  # flip rows (dim -2), as the official ``hflip``
    vflip: bool  # flip columns (dim -1)
    transpose: bool
    query_index: torch.Tensor  # (sample_q,) indices into the flattened HR crop


def sample_generator(seed: int, sample_number: int) -> torch.Generator:
    """A generator for one sample, independent of every other sample's."""
    digest = hashlib.blake2b(f"{seed}:{sample_number}".encode(), digest_size=8).digest()
    gen = torch.Generator()
    gen.manual_seed(int.from_bytes(digest, "big") & (2**63 - 1))
    return gen


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _randint(gen: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in [low, high] inclusive."""
    return int(torch.randint(low, high + 1, (), generator=gen))


def draw_params(
    gen: torch.Generator,
    image_hw: tuple[int, int],
    lr_patch: int,
    scale_range: tuple[float, float],
    sample_q: int,
    augment: bool,
) -> PatchParams:
    """Draw the scale, crop, flips and query pixels of one sample."""
    scale = _uniform(gen, *scale_range)
    hr_size = round(lr_patch * scale)
    h, w = image_hw
    if hr_size > min(h, w):
        raise ValueError(f"image {w}x{h} is too small for an HR crop of {hr_size}")
    top = _randint(gen, 0, h - hr_size)
    left = _randint(gen, 0, w - hr_size)
    flips = torch.rand(3, generator=gen) < 0.5 if augment else torch.zeros(3, dtype=torch.bool)
    n_pixels = hr_size * hr_size
    if sample_q > n_pixels:
        raise ValueError(f"sample_q {sample_q} exceeds the {n_pixels} pixels of the HR crop")
    query_index = torch.randperm(n_pixels, generator=gen)[:sample_q]
    return PatchParams(scale, hr_size, top, left, *map(bool, flips), query_index)


def dihedral(x: torch.Tensor, params: PatchParams) -> torch.Tensor:
    """Apply the sample's flips and transposition to ``(..., H, W)``."""
    if params.hflip:
        x = x.flip(-2)
    if params.vflip:
        x = x.flip(-1)
    if params.transpose:
        x = x.transpose(-2, -1)
    return x


def crop_hr(img: torch.Tensor, params: PatchParams) -> torch.Tensor:
    """The HR crop ``(3, S, S)`` as float in [0, 1] from a uint8 image ``(3, H, W)``."""
    s = params.hr_size
    crop = img[:, params.top : params.top + s, params.left : params.left + s]
    return crop.float() / 255.0


def make_sample(hr: torch.Tensor, lr_patch: int, params: PatchParams) -> dict[str, torch.Tensor]:
    """``inp`` (3, p, p), ``coord`` (q, 2), ``cell`` (q, 2), ``gt`` (q, 3) from an HR crop."""
    lr = downsample_bicubic(hr, (lr_patch, lr_patch))
    hr, lr = dihedral(hr, params).contiguous(), dihedral(lr, params).contiguous()
    coord, rgb = to_pixel_samples(hr)
    coord, rgb = coord[params.query_index], rgb[params.query_index]
    cell = make_cell(tuple(hr.shape[-2:]), coord.shape[0])
    return {"inp": lr, "coord": coord, "cell": cell, "gt": rgb}


HeavyOps = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def build_training_sample(
    img: torch.Tensor,
    gen: torch.Generator,
    lr_patch: int,
    scale_range: tuple[float, float],
    sample_q: int,
    augment: bool,
    heavy: HeavyOps | None = None,
) -> dict[str, torch.Tensor]:
    """One training sample from a uint8 image; ``heavy`` alters the HR crop before degradation.

    The heavy ops draw from ``gen`` only after every basic choice, so a sample and its heavy twin
    (same seed) share the crop, scale, flips and query pixels.
    """
    params = draw_params(gen, tuple(img.shape[-2:]), lr_patch, scale_range, sample_q, augment)
    hr = crop_hr(img, params)
    if heavy is not None:
        hr = heavy(hr, gen).clamp(0, 1)
    return make_sample(hr, lr_patch, params)
