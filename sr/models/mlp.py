"""The LIIF decoder: a plain ReLU MLP."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """``(N, in_dim)`` → ``(N, out_dim)``; Linear+ReLU per hidden width, then a Linear."""

    def __init__(self, in_dim: int, out_dim: int, hidden_list: list[int] | tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = in_dim
        for hidden in hidden_list:
            layers += [nn.Linear(last, hidden), nn.ReLU()]
            last = hidden
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers in order."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
