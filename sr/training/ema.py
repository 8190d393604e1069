"""An exponential moving average (EMA) of a model's weights, as BasicSR's ``net_g_ema``.

After every optimizer step each trainable parameter's average moves towards it:
``e <- decay * e + (1 - decay) * p``, starting from the weights at the start of training.
Parameters that are not trained (a frozen encoder) keep their starting value bit for bit.
"""

from __future__ import annotations

import copy

import torch

from sr.models.liif import LIIF


class WeightEma:
    """The averaged copy ``model`` of a LIIF; call ``update`` after every optimizer step."""

    def __init__(self, source: LIIF, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(source).eval()
        self.model.requires_grad_(False)
        # Which parameters move is fixed by the source's requires_grad when the EMA is made.
        self._pairs = [
            (avg, param)
            for avg, param in zip(self.model.parameters(), source.parameters(), strict=True)
            if param.requires_grad
        ]

    @torch.no_grad()
    def update(self) -> None:
        """Move the average one step towards the source's current weights."""
        for avg, param in self._pairs:
            avg.mul_(self.decay).add_(param.detach(), alpha=1 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights (what the run's weight files hold)."""
        return self.model.state_dict()

    def load_state_dict(self, weights: dict[str, torch.Tensor]) -> None:
        """Restore averaged weights written by ``state_dict``."""
        self.model.load_state_dict(weights, strict=True)
