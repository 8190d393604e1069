"""DualAug-style heavy augmentation with out-of-distribution rejection (arXiv 2310.08139, for SR).

DualAug trains on a basic branch and a heavy branch and drops heavy samples that the current
model finds out of distribution. For classification the paper scores samples by the model's
predictions; for super-resolution we score them by their own reconstruction loss: a heavy
sample whose per-sample L1 loss exceeds mean + lam * std of the *basic* samples' losses (tracked
by an exponential moving average) is rejected, either dropped or replaced by its basic twin.
Heavy ops act on the HR crop before degradation, so the LR input is always a clean bicubic
downsample of the (altered) target.
"""

from __future__ import annotations

import io
import math

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

from sr.training.config import DualAugConfig


def _u(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def colour_jitter(hr: torch.Tensor, gen: torch.Generator, strength: float) -> torch.Tensor:
    """Random brightness, contrast and saturation."""
    d = 0.4 * strength
    hr = TF.adjust_brightness(hr, _u(gen, 1 - d, 1 + d))
    hr = TF.adjust_contrast(hr, _u(gen, 1 - d, 1 + d))
    return TF.adjust_saturation(hr, _u(gen, 1 - d, 1 + d))


def blur(hr: torch.Tensor, gen: torch.Generator, strength: float) -> torch.Tensor:
    """Gaussian blur with a random sigma."""
    sigma = _u(gen, 0.2, 0.2 + 1.8 * strength)
    size = 2 * math.ceil(3 * sigma) + 1
    return TF.gaussian_blur(hr, [size, size], [sigma, sigma])


def noise(hr: torch.Tensor, gen: torch.Generator, strength: float) -> torch.Tensor:
    """Additive Gaussian noise with a random standard deviation."""
    std = _u(gen, 0.0, 0.05 * strength)
    return hr + std * torch.randn(hr.shape, generator=gen)


def jpeg(hr: torch.Tensor, gen: torch.Generator, strength: float) -> torch.Tensor:
    """JPEG round trip at a random quality."""
    quality = round(_u(gen, 95 - 65 * strength, 95))
    arr = (hr.clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=max(5, quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return TF.to_tensor(im.convert("RGB"))


def rotate(hr: torch.Tensor, gen: torch.Generator, strength: float) -> torch.Tensor:
    """Rotation by any angle; the largest valid centred square is cropped and resized back."""
    angle = _u(gen, -45 * strength, 45 * strength)
    side = hr.shape[-1]
    rad = math.radians(abs(angle))
    # The largest square inside the rotated one, less a pixel each side that bilinear sampling
    # would blend with the fill outside.
    valid = max(1, math.floor(side / (math.cos(rad) + math.sin(rad))) - 2)
    rotated = TF.rotate(hr, angle, interpolation=TF.InterpolationMode.BILINEAR)
    off = (side - valid) // 2
    crop = rotated[:, off : off + valid, off : off + valid]
    resized = F.interpolate(crop[None], size=(side, side), mode="bicubic", align_corners=False)
    return resized[0]


HEAVY_OPS = (colour_jitter, blur, noise, jpeg, rotate)


class HeavyAugment:
    """Apply ``ops_per_sample`` distinct random heavy ops to an HR crop ``(3, S, S)``."""

    def __init__(self, config: DualAugConfig) -> None:
        self.k = min(config.ops_per_sample, len(HEAVY_OPS))
        self.strength = config.strength

    def __call__(self, hr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        for i in torch.randperm(len(HEAVY_OPS), generator=gen)[: self.k].tolist():
            hr = HEAVY_OPS[i](hr, gen, self.strength).clamp(0, 1)
        return hr


class LossStatistics:
    """EMA of the mean and variance of basic samples' per-sample losses."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.mean: float | None = None
        self.var = 0.0

    def update(self, mean: float, var: float) -> None:
        """Fold in one batch's mean and (population) variance of basic losses."""
        if self.mean is None:
            self.mean, self.var = mean, var
            return
        d = self.decay
        # Law of total variance, so drift of the mean between batches widens the band too.
        new_mean = d * self.mean + (1 - d) * mean
        self.var = d * (self.var + (self.mean - new_mean) ** 2) + (1 - d) * (
            var + (mean - new_mean) ** 2
        )
        self.mean = new_mean

    def threshold(self, lam: float) -> float:
        """Losses above this are out of distribution (``inf`` before any update)."""
        if self.mean is None:
            return math.inf
        return self.mean + lam * math.sqrt(max(self.var, 0.0))

    def state_dict(self) -> dict:
        """For checkpoints."""
        return {"mean": self.mean, "var": self.var}

    def load_state_dict(self, state: dict) -> None:
        """Restore from ``state_dict``."""
        self.mean, self.var = state["mean"], state["var"]


def heavy_weights(
    losses: torch.Tensor,
    heavy: torch.Tensor,
    twin: torch.Tensor,
    threshold: float,
    reject_mode: str,
) -> tuple[torch.Tensor, int]:
    """Per-sample loss weights ``(B,)`` and the number of rejected heavy samples.

    ``heavy`` ``(B,)`` marks heavy samples; ``twin`` ``(B,)`` is each heavy sample's basic twin
    index in the batch. Rejected heavy samples get weight 0; with ``replace`` their twin gets +1.
    """
    weights = torch.ones_like(losses)
    rejected = heavy & (losses.detach() > threshold)
    weights[rejected] = 0.0
    if reject_mode == "replace":
        weights.index_add_(
            0,
            twin[rejected],
            torch.ones(int(rejected.sum()), dtype=losses.dtype, device=losses.device),
        )
    return weights, int(rejected.sum())
