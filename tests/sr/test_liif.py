"""The fast LIIF decoder against the literal reference, and the encoder's structure."""

from __future__ import annotations

import pytest
import torch

from sr.coords import axis_centres, make_cell, make_coord
from sr.models.liif import LIIF, LIIFConfig, nearest_code_index
from sr.models.liif_reference import reference_query_rgb
from tests.sr.helpers import official_model, tiny_model


def _grid_queries(out_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    coord = make_coord(out_hw).unsqueeze(0)
    return coord, make_cell(out_hw, coord.shape[1]).unsqueeze(0)


@pytest.mark.parametrize("out_hw", [(26, 34), (40, 17), (13, 17), (91, 123), (29, 50)])
@torch.no_grad()
def test_query_rgb__matches_reference_on_grids(out_hw):
    model = tiny_model()
    feat = model.gen_feat(torch.rand(1, 3, 13, 17))
    coord, cell = _grid_queries(out_hw)
    fast = model.query_rgb(model.latent_grid(feat), coord, cell)
    ref = reference_query_rgb(model, feat, coord, cell)
    assert fast.shape == ref.shape == (1, out_hw[0] * out_hw[1], 3)
    assert (fast - ref).abs().max() <= 1e-4
    assert ref.std() > 0.01  # outputs vary, so a wrong code or weight would show


@pytest.mark.parametrize(
    "overrides",
    [dict(local_ensemble=False), dict(feat_unfold=False), dict(cell_decode=False)],
    ids=["no-ensemble", "no-unfold", "no-cell"],
)
@torch.no_grad()
def test_query_rgb__matches_reference_for_ablations(overrides):
    model = tiny_model(**overrides)
    feat = model.gen_feat(torch.rand(2, 3, 9, 11))
    coord = torch.rand(2, 300, 2) * 2 - 1  # random continuous queries, as in training
    cell = torch.rand(2, 300, 2) * 0.2
    fast = model.query_rgb(model.latent_grid(feat), coord, cell)
    assert (fast - reference_query_rgb(model, feat, coord, cell)).abs().max() <= 1e-4


@torch.no_grad()
def test_query_grid__equals_query_rgb_on_the_meshgrid():
    model = tiny_model(seed=3)
    feat = model.gen_feat(torch.rand(1, 3, 10, 12))
    grid = model.latent_grid(feat)
    out_hw = (37, 29)
    coord, cell = _grid_queries(out_hw)
    flat = model.query_rgb(grid, coord, cell).view(*out_hw, 3)
    ys, xs = axis_centres(out_hw[0]), axis_centres(out_hw[1])
    on_grid = model.query_grid(grid, ys, xs, (2 / out_hw[0], 2 / out_hw[1]))
    assert (flat - on_grid).abs().max() <= 1e-5


@torch.no_grad()
def test_query_rgb__official_weights_match_reference():
    model = official_model()
    feat = model.gen_feat(torch.rand(1, 3, 16, 20))
    coord, cell = _grid_queries((53, 71))  # x3.3 and x3.55
    fast = model.query_rgb(model.latent_grid(feat), coord, cell)
    assert (fast - reference_query_rgb(model, feat, coord, cell)).abs().max() <= 1e-4


def test_query_rgb__gradients_match_reference():
    model = tiny_model()
    img = torch.rand(1, 3, 8, 8)
    coord = torch.rand(1, 64, 2) * 2 - 1
    cell = torch.full((1, 64, 2), 2 / 24)
    target = torch.rand(1, 64, 3)
    grads = []
    for fn in (
        lambda f: model.query_rgb(model.latent_grid(f), coord, cell),
        lambda f: reference_query_rgb(model, f, coord, cell),
    ):
        model.zero_grad()
        (fn(model.gen_feat(img)) - target).abs().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_nearest_code_index__rounds_like_pixel_centres():
    centres = axis_centres(7)
    assert nearest_code_index(centres, 7).tolist() == list(range(7))
    # A point just right of the border between codes 2 and 3 belongs to 3.
    border = torch.tensor([-1 + 3 * 2 / 7 + 1e-5])
    assert nearest_code_index(border, 7).item() == 3


def test_encoder__matches_edsr_baseline_shape_and_receptive_field():
    model = LIIF(LIIFConfig())
    names = dict(model.named_parameters())
    assert len(model.encoder.body) == 17  # 16 residual blocks + the closing conv
    assert names["imnet.layers.0.weight"].shape == (256, 580)
    assert names["imnet.layers.8.weight"].shape == (3, 256)
    assert model.encoder.receptive_radius == 34
    # Perturbing one input pixel changes features exactly within the receptive radius.
    torch.manual_seed(0)
    small = LIIF(LIIFConfig(n_resblocks=2, n_feats=8, hidden_list=(8,))).eval()
    x = torch.rand(1, 3, 21, 21)
    y = x.clone()
    y[0, :, 10, 10] += 1
    with torch.no_grad():
        changed = (small.gen_feat(x) - small.gen_feat(y)).abs().sum(dim=(0, 1)) > 0
    rows = changed.any(dim=1).nonzero().flatten()
    r = small.encoder.receptive_radius
    assert rows.min() == 10 - r and rows.max() == 10 + r
