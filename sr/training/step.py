"""The training forward pass: fast (per-code first layer) and straightforward (paper-literal).

Fast: the model's own forward, the decoder core inference uses too (``LIIF.query_rgb``): the
encoder runs channels-last, the decoder's first layer is computed once per latent code as a 3x3
convolution (``LIIF.latent_table``) and gathered per query, and the rest of the MLP runs on one
flat ``(4 * B * N, D)`` matrix, which keeps autograd's backward on plain matmuls (no in-place ops
on views, whose backward replays slow ``as_strided`` copies). Straightforward: NCHW
encoder, unfolded features gathered per query and a 580-wide MLP input for each of the four
neighbours, as in the official code. Same maths, so the two agree to float rounding (tested on
outputs and gradients).
"""

from __future__ import annotations

import torch
from torch import nn

from sr.models.liif import LIIF
from sr.models.liif_reference import reference_query_rgb

# The paper normalises targets as (gt - 0.5) / 0.5 before the L1 loss.
GT_DIV = 0.5


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
            return self.liif(inp, coord, cell)  # LIIF.query_rgb: the one decoder core
        return straightforward_rgb(self.liif, inp, coord, cell)


def per_sample_l1(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean L1 per sample ``(B,)`` on the paper's normalised scale ((x - 0.5) / 0.5)."""
    return (pred - gt).abs().mean(dim=(1, 2)) / GT_DIV
