"""The learning-rate schedule: the paper's step decay, or cosine decay, after an optional warm-up.

The LR of the optimizer step that follows ``t`` completed steps (t = 0, 1, ...) is
``optim.lr * lr_factor(t)``, where, with W = ``warmup_steps`` and T = the run's total steps:

- warm-up (t < W): (t + 1) / W, a straight line from 0 that reaches the full LR at step W;
- ``step``: gamma ** (t // K), K = round(lr_step_epochs * steps per epoch), counted from step 0;
- ``cosine``: m + (1 - m) * (1 + cos(pi * p)) / 2, p = min(1, (t - W) / (T - W)),
  m = lr_min / lr, so the LR falls from the full LR after the warm-up to ``lr_min`` at step T.

Without a warm-up the step schedule is torch's ``StepLR``, exactly as before these options
existed (and checkpoints written then still resume); every other case is a ``LambdaLR`` whose
state is its step count only, so a resumed run continues the schedule where it stopped.
"""

from __future__ import annotations

import math

import torch

from sr.training.config import OptimConfig


def lr_step_interval(optim: OptimConfig, steps_per_epoch: int) -> int:
    """Steps between two decays of the step schedule (at least 1)."""
    return max(1, round(optim.lr_step_epochs * steps_per_epoch))


def lr_factor(step: int, optim: OptimConfig, total_steps: int, steps_per_epoch: int) -> float:
    """LR of the step after ``step`` completed steps, as a fraction of ``optim.lr``."""
    warm = optim.warmup_steps
    if step < warm:
        return (step + 1) / warm
    if optim.schedule == "step":
        return optim.lr_gamma ** (step // lr_step_interval(optim, steps_per_epoch))
    floor = optim.lr_min / optim.lr
    progress = min(1.0, (step - warm) / max(1, total_steps - warm))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(
    optimizer: torch.optim.Optimizer, optim: OptimConfig, total_steps: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The run's scheduler; ``scheduler.step()`` once after every optimizer step."""
    if optim.schedule == "step" and optim.warmup_steps == 0:
        return torch.optim.lr_scheduler.StepLR(
            optimizer,
            step_size=lr_step_interval(optim, steps_per_epoch),
            gamma=optim.lr_gamma,
        )

    # A closure, not an object: LambdaLR would put an object's attributes into its state dict.
    def factor(step: int) -> float:
        return lr_factor(step, optim, total_steps, steps_per_epoch)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def describe_schedule(optim: OptimConfig, total_steps: int, steps_per_epoch: int) -> str:
    """One phrase for the run's log, e.g. ``cosine 2e-05 -> 1e-06 over 300 steps``."""
    warm = f", warm-up {optim.warmup_steps} steps" if optim.warmup_steps else ""
    if optim.schedule == "step":
        every = lr_step_interval(optim, steps_per_epoch)
        return f"step (lr {optim.lr:g}, x {optim.lr_gamma:g} every {every} steps{warm})"
    return f"cosine (lr {optim.lr:g} -> {optim.lr_min:g} over {total_steps} steps{warm})"
