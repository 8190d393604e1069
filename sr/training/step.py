"""The training forward pass: fast (per-code first layer) and straightforward (paper-literal).

Fast: the encoder runs channels-last, the decoder's first layer is computed once per latent code
as a 3x3 convolution (``LIIF.latent_table``) and gathered per query, and the rest of the MLP runs
on one flat ``(4 * B * N, D)`` matrix, which keeps autograd's backward on plain matmuls (no
in-place ops on views, whose backward replays slow ``as_strided`` copies). Straightforward: NCHW
encoder, unfolded features gathered per query and a 580-wide MLP input for each of the four
neighbours, as in the official code. Same maths, so the two agree to float rounding (tested on
outputs and gradients).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr.models.liif import AREA_EPS, LIIF, ensemble_neighbours
from sr.models.liif_reference import reference_query_rgb

# The paper normalises targets as (gt - 0.5) / 0.5 before the L1 loss.
GT_DIV = 0.5


def train_query_rgb(
    model: LIIF, feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor
) -> torch.Tensor:
    """RGB ``(B, N, 3)`` in [0, 1] at ``coord`` ``(B, N, 2)`` from latent codes ``(B, C, h, w)``."""
    cfg = model.config
    linears = model.imnet.linears
    first = linears[0]
    table = model.latent_table(feat)  # (B, h*w, D)
    batch, n_codes, width = table.shape
    h, w = feat.shape[-2:]
    n_feat_in = first.weight.shape[1] - 2 - (2 if cfg.cell_decode else 0)
    size = torch.tensor([h, w], dtype=coord.dtype, device=coord.device)
    offset = (torch.arange(batch, device=coord.device) * n_codes).view(batch, 1)

    index, rels = [], []
    for iy, ix, rel in ensemble_neighbours(coord, (h, w), cfg.local_ensemble):
        rels.append(rel)
        index.append(iy * w + ix + offset)
    rel = torch.stack(rels)  # (S, B, N, 2)
    n_shift = rel.shape[0]
    extra = rel if not cfg.cell_decode else torch.cat([rel, (cell * size).expand_as(rel)], -1)
    h1 = table.reshape(batch * n_codes, width).index_select(0, torch.stack(index).reshape(-1))
    w_extra = first.weight[:, n_feat_in:]
    # In-place ReLUs are safe here: every input is a fresh 2-D matmul result, not a view, and
    # neither addmm's nor ReLU's backward needs the pre-activation.
    x = torch.addmm(h1, extra.reshape(-1, extra.shape[-1]), w_extra.t()).relu_()
    for layer in linears[1:-1]:
        x = F.linear(x, layer.weight, layer.bias).relu_()
    pred = F.linear(x, linears[-1].weight, linears[-1].bias).view(n_shift, batch, -1, 3)
    area = torch.abs(rel[..., 0] * rel[..., 1]) + AREA_EPS  # (S, B, N)
    # each neighbour is weighted by the area of the diagonally opposite one
    weight = area.flip(0) / area.sum(0, keepdim=True)
    return (pred * weight.unsqueeze(-1)).sum(0) * 0.5 + 0.5


def straightforward_rgb(
    model: LIIF, inp: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor
) -> torch.Tensor:
    """The paper's training forward: NCHW encoder, then the literal decoder."""
    feat = model.encoder((inp - 0.5) / 0.5)
    return reference_query_rgb(model, feat, coord, cell)


class TrainForward(nn.Module):
    """Wraps a LIIF so DDP sees one ``forward(inp, coord, cell)``; ``fast`` picks the path."""

    def __init__(self, liif: LIIF, fast: bool = True) -> None:
        super().__init__()
        self.liif = liif
        self.fast = fast

    def forward(self, inp: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        if self.fast:
            return train_query_rgb(self.liif, self.liif.gen_feat(inp), coord, cell)
        return straightforward_rgb(self.liif, inp, coord, cell)


def per_sample_l1(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean L1 per sample ``(B,)`` on the paper's normalised scale ((x - 0.5) / 0.5)."""
    return (pred - gt).abs().mean(dim=(1, 2)) / GT_DIV
