"""Tiled, chunked rendering equals the untiled literal method."""

from __future__ import annotations

import pytest
import torch

from sr.coords import make_cell, make_coord
from sr.inference import TileSettings, iter_tiles, render, upscale_tensor
from sr.models.liif_reference import reference_batched_predict
from tests.sr.helpers import official_model, tiny_model


def _reference_image(model, img, out_hw):
    coord = make_coord(out_hw).unsqueeze(0)
    cell = make_cell(out_hw, coord.shape[1]).unsqueeze(0)
    flat = reference_batched_predict(model, img.unsqueeze(0), coord, cell, chunk=5000)
    return flat[0].t().reshape(3, *out_hw)


@pytest.mark.parametrize("out_hw", [(60, 80), (77, 41), (150, 93)])
def test_upscale_tensor__untiled_matches_reference(out_hw):
    model = tiny_model()
    img = torch.rand(3, 30, 40)
    out = upscale_tensor(model, img, out_hw, TileSettings(tile=1000, chunk=700))
    assert (out - _reference_image(model, img, out_hw)).abs().max() <= 1e-4


@pytest.mark.parametrize("scale", [1.0, 1.7, 3.0, 4.25])
def test_upscale_tensor__tiles_equal_untiled(scale):
    model = tiny_model(seed=1)
    img = torch.rand(3, 45, 38)
    out_hw = (round(45 * scale), round(38 * scale * 1.1))
    whole = upscale_tensor(model, img, out_hw, TileSettings(tile=10_000, chunk=100_000))
    tiled = upscale_tensor(model, img, out_hw, TileSettings(tile=11, chunk=97))
    assert (whole - tiled).abs().max() <= 1e-4
    # Look right at the tile seams, where a missing halo would show first.
    rows = [out0 for out0, *_ in iter_tiles(out_hw[0], 45, 11, model.halo)][1:]
    for r in rows:
        assert (whole[:, r - 1 : r + 1] - tiled[:, r - 1 : r + 1]).abs().max() <= 1e-4


def test_upscale_tensor__official_model_tiled_equals_untiled():
    model = official_model()
    img = torch.rand(3, 96, 90)
    out_hw = (192, 180)
    whole = upscale_tensor(model, img, out_hw, TileSettings(tile=10_000))
    tiled = upscale_tensor(model, img, out_hw, TileSettings(tile=40, chunk=500))
    assert (whole - tiled).abs().max() <= 1e-4


def test_iter_tiles__cover_every_output_row_once_with_halo():
    spans = list(iter_tiles(n_out=100, n_lr=37, tile=8, halo=5))
    covered = [i for out0, out1, _, _ in spans for i in range(out0, out1)]
    assert covered == list(range(100))
    for out0, out1, crop0, crop1 in spans:
        lr_lo = (2 * out0 + 1) * 37 // 200
        lr_hi = (2 * (out1 - 1) + 1) * 37 // 200
        assert crop0 <= max(0, lr_lo - 1 - 5) and crop1 >= min(37, lr_hi + 2 + 5)


def test_iter_tiles__split_evenly_instead_of_leaving_a_sliver():
    # 100 LR rows, tile 48: three tiles of 33-34 rows, not 48 + 48 + 4 (each tile pays the halo).
    spans = list(iter_tiles(n_out=400, n_lr=100, tile=48, halo=0))
    assert len(spans) == 3
    lr_rows = [(out1 - out0) // 4 for out0, out1, _, _ in spans]
    assert max(lr_rows) - min(lr_rows) <= 1 and sum(lr_rows) == 100


@pytest.mark.parametrize("tile", [10_000, 11])
def test_render__progress_per_block_adds_up_to_every_pixel(tile):
    model = tiny_model()
    img = torch.rand(3, 30, 40)
    out_hw = (90, 120)  # one tile when tile=10_000: progress must still come in steps
    seen: list[int] = []
    render(model, img, out_hw, lambda *_: None, TileSettings(tile=tile, chunk=500), seen.append)
    assert sum(seen) == 90 * 120
    assert len(seen) >= 90 * 120 // 500 and max(seen) <= 500
