"""Replay towards the starting weights' own output (``data.replay_target: start``).

Learning without Forgetting (Li & Hoiem, ECCV 2016, "Learning without forgetting") keeps what a
model knew by training it, on data of the old task, to give the answers the original model
gave, rather than the ground truth. Here: a replay sample's target is the prediction of the
starting weights (frozen) for the same LR patch, queries and cells, so the replay asks the
fine-tune to leave generic photos as the start upscaled them, where ground-truth replay asks it to
keep improving on a handful of photos.
"""

from __future__ import annotations

import copy

import torch

from sr.models.liif import LIIF
from sr.precision import autocast


class StartTeacher:
    """A frozen copy of the starting weights; ``relabel`` sets the replay samples' targets."""

    def __init__(self, model: LIIF, precision: str) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.precision = precision

    @torch.no_grad()
    def relabel(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``batch`` with ``gt`` of its replay samples replaced by the start's prediction."""
        rows = batch["replay"]
        if not bool(rows.any()):
            return batch
        device = batch["inp"].device
        with autocast(self.precision, device):
            pred = self.model(batch["inp"][rows], batch["coord"][rows], batch["cell"][rows])
        gt = batch["gt"].clone()
        gt[rows] = pred.float().clamp(0, 1)  # the upscaler's output range, as HR pixels are
        return {**batch, "gt": gt}
