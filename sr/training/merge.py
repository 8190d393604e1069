"""Weight-space merge with the starting weights (WiSE-FT; Wortsman et al., CVPR 2022).

A fine-tune on a narrow domain moves the weights away from what the generic model knew. What is
validated and saved can be ``start + alpha * (trained - start)`` instead of the trained weights:
``alpha = 1`` is plain fine-tuning, ``alpha = 0`` the starting model. Between the two, most of
the domain gain stays while generic quality comes back (docs/training.md has the measurement).
The encoder may take its own alpha: on clip art, the encoder's change is what costs generic
photos, while the decoder (LIIF's ``imnet``) carries most of the domain gain (docs/training.md),
so a smaller encoder alpha keeps generic quality at a lower price in domain gain.
"""

from __future__ import annotations

import copy

import torch

from sr.models.liif import LIIF

DECODER_PREFIX = "imnet."  # LIIF's decoder MLP; every other tensor belongs to the encoder


class InitMerge:
    """Keeps the starting weights; ``of(trained)`` is the merged model (a reused copy)."""

    def __init__(self, start: LIIF, alpha: float, encoder_alpha: float | None = None) -> None:
        for value in (alpha, encoder_alpha):
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"merge alpha must be in [0, 1], got {value}")
        self.alpha = alpha
        self.encoder_alpha = alpha if encoder_alpha is None else encoder_alpha
        self.model = copy.deepcopy(start).eval()
        self.model.requires_grad_(False)
        self._start = {k: v.detach().clone() for k, v in start.state_dict().items()}

    def alpha_of(self, name: str) -> float:
        """The merge weight of one state-dict entry."""
        return self.alpha if name.startswith(DECODER_PREFIX) else self.encoder_alpha

    @torch.no_grad()
    def of(self, trained: LIIF) -> LIIF:
        """``start + alpha * (trained - start)`` for every tensor, in the merge's own model."""
        weights = trained.state_dict()
        for name, out in self.model.state_dict().items():
            start = self._start[name]
            if out.is_floating_point():
                torch.lerp(start, weights[name].to(start.device), self.alpha_of(name), out=out)
            else:  # integer buffers (none in LIIF today) are taken as trained
                out.copy_(weights[name])
        return self.model
