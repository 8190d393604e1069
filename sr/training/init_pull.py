"""A pull of the trained weights back towards their starting values (decoupled L2-SP).

L2-SP (Li et al., ICML 2018, "Explicit inductive bias for transfer learning") penalises the
distance of fine-tuned weights from the pretrained ones, so that what a narrow domain does not
ask for stays as the generic model had it. With Adam, a penalty added to the loss is rescaled by
each weight's adaptive step; as in AdamW's decoupled weight decay (Loshchilov & Hutter, ICLR
2019), the pull is applied after each optimizer step instead:
``w <- w - lr * strength * (w - start)``. Adam moves a weight about ``lr`` per step, so a
direction the domain keeps pushing settles about ``1 / strength`` from its start (in weight
units, whatever the LR); directions only noise moves decay back.
"""

from __future__ import annotations

import torch

from sr.models.liif import LIIF


class InitPull:
    """Keeps the trained parameters' starting values; ``apply(lr)`` after each optimizer step."""

    def __init__(self, model: LIIF, strength: float) -> None:
        if strength <= 0:
            raise ValueError(f"pull strength must be > 0, got {strength}")
        self.strength = strength
        self._pairs = [
            (param, param.detach().clone()) for param in model.parameters() if param.requires_grad
        ]

    @torch.no_grad()
    def apply(self, lr: float) -> None:
        """Move every trained parameter ``lr * strength`` of the way back to its start."""
        weight = min(1.0, lr * self.strength)
        for param, start in self._pairs:
            param.lerp_(start, weight)
