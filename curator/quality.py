"""Quality measures useful for SR training data; each becomes a flag with a value when it fails.

All measures take 8-bit RGB ``(H, W, 3)`` arrays. Thresholds live in ``IngestConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from curator.config import IngestConfig

MEASURE_SIDE = 1024  # blur/blocking are measured at most at this size so thresholds mean one thing


@dataclass(frozen=True)
class Flag:
    """A failed check: its name, the measured value, and a short human reason."""

    name: str
    value: float
    detail: str


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)


def _limit(gray: np.ndarray, side: int = MEASURE_SIDE) -> np.ndarray:
    h, w = gray.shape
    scale = side / max(h, w)
    if scale >= 1:
        return gray
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the gray image (low = blurry)."""
    return float(cv2.Laplacian(_limit(_gray(rgb)), cv2.CV_64F, ksize=1).var())


def blockiness(rgb: np.ndarray) -> float:
    """Mean |gradient| across 8x8 block borders / mean |gradient| inside blocks (≈1 if clean)."""
    gray = _gray(rgb)
    ratios = []
    for axis in (0, 1):
        diff = np.abs(np.diff(gray, axis=axis))
        n = diff.shape[axis]
        if n < 16:
            continue
        border = np.zeros(n, dtype=bool)
        border[7::8] = True  # diff index j is between pixels j and j+1: borders at 7, 15, ...
        diff = diff if axis == 0 else diff.T
        inside = diff[~border].mean()
        ratios.append(diff[border].mean() / max(inside, 1e-6))
    return float(np.mean(ratios)) if ratios else 1.0


def dhash(rgb: np.ndarray) -> int:
    """64-bit difference hash: sign of horizontal gradients of the 9x8 gray thumbnail."""
    small = cv2.resize(_gray(rgb), (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def hamming_to_many(value: int, others: np.ndarray) -> np.ndarray:
    """Hamming distances between one 64-bit hash and an array of them (uint64)."""
    return np.bitwise_count(np.bitwise_xor(others, np.uint64(value))).astype(np.int64)


def similarity_to_parent(rgb: np.ndarray, parent_rgb: np.ndarray) -> float:
    """1 − mean absolute difference of 32x32 gray versions, in [0, 1] (1 = identical).

    32x32 so that the resize every img2img input goes through does not count as a change.
    """
    a = cv2.resize(_gray(rgb), (32, 32), interpolation=cv2.INTER_AREA)
    b = cv2.resize(_gray(parent_rgb), (32, 32), interpolation=cv2.INTER_AREA)
    return float(1.0 - np.abs(a - b).mean() / 255.0)


def image_flags(rgb: np.ndarray, config: IngestConfig) -> list[Flag]:
    """The checks that need only the image itself: too small, blurry, blocky."""
    flags = []
    height, width = rgb.shape[:2]
    needed = config.patch_size * config.target_scale
    if min(height, width) < needed:
        flags.append(
            Flag(
                "too_small",
                float(min(height, width)),
                f"shorter side {min(height, width)} px < {needed} px "
                f"(patch {config.patch_size} × scale {config.target_scale})",
            )
        )
    sharpness = laplacian_variance(rgb)
    if sharpness < config.blur_threshold:
        flags.append(
            Flag(
                "blurry", sharpness, f"Laplacian variance {sharpness:.1f} < {config.blur_threshold}"
            )
        )
    blocks = blockiness(rgb)
    if blocks > config.blocking_threshold:
        flags.append(
            Flag(
                "jpeg_blocking",
                blocks,
                f"8x8 border ratio {blocks:.2f} > {config.blocking_threshold}",
            )
        )
    return flags
