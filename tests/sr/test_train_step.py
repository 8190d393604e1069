"""The fast training forward against the paper-literal one: outputs, gradients, weights."""

from __future__ import annotations

import pytest
import torch

from sr.training.step import TrainForward, per_sample_l1
from tests.sr.helpers import tiny_model


def _batch(seed: int = 0, b: int = 3, p: int = 10, q: int = 50):
    gen = torch.Generator().manual_seed(seed)
    inp = torch.rand(b, 3, p, p, generator=gen)
    coord = torch.rand(b, q, 2, generator=gen) * 2 - 1
    cell = torch.full((b, q, 2), 2 / (p * 2.7))
    gt = torch.rand(b, q, 3, generator=gen)
    return inp, coord, cell, gt


def _grads(model, fast: bool, batch) -> dict[str, torch.Tensor]:
    inp, coord, cell, gt = batch
    model.zero_grad()
    per_sample_l1(TrainForward(model, fast=fast)(inp, coord, cell), gt).mean().backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize(
    "overrides",
    [{}, dict(local_ensemble=False), dict(feat_unfold=False), dict(cell_decode=False)],
    ids=["paper", "no-ensemble", "no-unfold", "no-cell"],
)
def test_fast_step__outputs_and_gradients_match_the_literal_step(overrides):
    model = tiny_model(**overrides).train()
    batch = _batch()
    with torch.no_grad():
        fast = TrainForward(model, fast=True)(*batch[:3])
        slow = TrainForward(model, fast=False)(*batch[:3])
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-5)
    g_fast, g_slow = _grads(model, True, batch), _grads(model, False, batch)
    for name in g_slow:
        scale = g_slow[name].abs().max().item()
        assert scale > 0, name  # every parameter gets a gradient in both paths
        torch.testing.assert_close(g_fast[name], g_slow[name], rtol=1e-4, atol=1e-5 * scale)


def test_fast_step__adam_steps_reach_the_same_weights():
    weights = {}
    for fast in (True, False):
        model = tiny_model(seed=3).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for step in range(5):
            inp, coord, cell, gt = _batch(seed=step)
            opt.zero_grad()
            per_sample_l1(TrainForward(model, fast=fast)(inp, coord, cell), gt).mean().backward()
            opt.step()
        weights[fast] = {k: v.clone() for k, v in model.state_dict().items()}
    start = tiny_model(seed=3).state_dict()
    for name, value in weights[False].items():
        torch.testing.assert_close(weights[True][name], value, rtol=0, atol=2e-5)
    assert any((weights[True][k] - start[k]).abs().max() > 1e-3 for k in start)


def test_per_sample_l1__is_the_paper_loss_on_normalised_values():
    pred, gt = torch.rand(2, 7, 3), torch.rand(2, 7, 3)
    expected = ((pred - 0.5) / 0.5 - (gt - 0.5) / 0.5).abs().mean(dim=(1, 2))
    torch.testing.assert_close(per_sample_l1(pred, gt), expected)
