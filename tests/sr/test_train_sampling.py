"""Training samples: scale/crop/flip draws, coordinates and cells against their definition."""

from __future__ import annotations

import torch

from sr.training.patch_sample import (
    PatchParams,
    build_training_sample,
    crop_hr,
    draw_params,
    make_sample,
    sample_generator,
)


def _position_image(h: int = 210, w: int = 230) -> torch.Tensor:
    """uint8 image whose R and G channels are the pixel's row and column (mod 256)."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([ys % 256, xs % 256, (ys + xs) % 256]).to(torch.uint8)


def _undo_augment(r: torch.Tensor, c: torch.Tensor, size: int, p: PatchParams):
    """Map pixel (r, c) of the augmented crop back to the un-augmented crop (inverse order)."""
    if p.transpose:
        r, c = c, r
    if p.vflip:
        c = size - 1 - c
    if p.hflip:
        r = size - 1 - r
    return r, c


def test_make_sample__coords_address_their_gt_pixels_and_cells_are_hr_pixel_size():
    img = _position_image()
    seen_flags = set()
    for n in range(24):
        gen = sample_generator(seed=3, sample_number=n)
        params = draw_params(gen, (210, 230), 48, (1.0, 4.0), 300, augment=True)
        sample = make_sample(crop_hr(img, params), 48, params)
        s = params.hr_size
        coord, gt, cell = sample["coord"], sample["gt"], sample["cell"]
        assert (
            coord.shape == (300, 2) and gt.shape == (300, 3) and sample["inp"].shape == (3, 48, 48)
        )
        # Pixel-centre definition: coordinate = -1 + (2 i + 1) / S.
        rows = (coord[:, 0] + 1) * s / 2 - 0.5
        cols = (coord[:, 1] + 1) * s / 2 - 0.5
        assert (rows - rows.round()).abs().max() < 1e-3 and (cols - cols.round()).abs().max() < 1e-3
        r, c = _undo_augment(rows.round().long(), cols.round().long(), s, params)
        expect_y, expect_x = (params.top + r) % 256, (params.left + c) % 256
        assert torch.equal((gt[:, 0] * 255).round().long(), expect_y)
        assert torch.equal((gt[:, 1] * 255).round().long(), expect_x)
        assert torch.allclose(cell, torch.full_like(cell, 2 / s))
        assert len({tuple(x) for x in coord.tolist()}) == 300  # drawn without replacement
        seen_flags.add((params.hflip, params.vflip, params.transpose))
    assert len(seen_flags) >= 4  # flips and transposition really vary


def test_make_sample__lr_patch_is_the_downsampled_hr_crop_in_the_same_orientation():
    # A linear ramp survives bicubic downsampling: LR pixel (i, j) sits over HR position
    # (i + 0.5) * s - 0.5, whatever flips were applied, if LR and HR are augmented alike.
    img = _position_image(200, 200)
    for n in range(8):
        gen = sample_generator(seed=1, sample_number=n)
        params = draw_params(gen, (200, 200), 24, (2.0, 3.0), 10, augment=True)
        sample = make_sample(crop_hr(img, params), 24, params)
        scale = params.hr_size / 24
        centre = (torch.arange(24) + 0.5) * scale - 0.5
        lr = sample["inp"] * 255
        ramp_r = lr[0, 2:-2, 2:-2]  # rows value
        ramp_c = lr[1, 2:-2, 2:-2]
        if params.transpose:
            ramp_r, ramp_c = ramp_r.t(), ramp_c.t()  # undo so rows index rows again
        r_idx = centre[2:-2].flip(0) if params.hflip else centre[2:-2]
        c_idx = centre[2:-2].flip(0) if params.vflip else centre[2:-2]
        assert (ramp_r - (params.top + r_idx).view(-1, 1)).abs().max() < 1.01
        assert (ramp_c - (params.left + c_idx).view(1, -1)).abs().max() < 1.01


def test_draw_params__scale_and_crop_follow_the_recipe():
    scales, inside = [], True
    for n in range(400):
        p = draw_params(sample_generator(0, n), (300, 250), 48, (1.0, 4.0), 2304, True)
        scales.append(p.scale)
        assert p.hr_size == round(48 * p.scale)
        inside &= p.top + p.hr_size <= 300 and p.left + p.hr_size <= 250
        assert p.query_index.unique().numel() == 2304
    scales = torch.tensor(scales)
    assert inside
    assert 1.0 <= scales.min() < 1.1 and 3.9 < scales.max() <= 4.0
    assert abs(scales.mean() - 2.5) < 0.15  # uniform on [1, 4]


def test_build_sample__same_key_same_sample_and_heavy_twin_shares_crop_and_queries():
    img = _position_image()
    a = build_training_sample(img, sample_generator(5, 17), 32, (1.0, 4.0), 64, True)
    b = build_training_sample(img, sample_generator(5, 17), 32, (1.0, 4.0), 64, True)
    c = build_training_sample(img, sample_generator(5, 18), 32, (1.0, 4.0), 64, True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["coord"], c["coord"])
    twin = build_training_sample(
        img, sample_generator(5, 17), 32, (1.0, 4.0), 64, True, heavy=lambda hr, g: 1 - hr
    )
    assert torch.equal(twin["coord"], a["coord"]) and torch.equal(twin["cell"], a["cell"])
    assert torch.allclose(twin["gt"], 1 - a["gt"], atol=1e-6)
