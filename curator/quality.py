"""Quality measures useful for SR training data; each becomes a flag with a value when it fails.

All measures take 8-bit ``(H, W, 3)`` RGB or ``(H, W, 1)`` gray arrays and work on copies of at
most 1024² pixels. Thresholds live in ``IngestConfig``.
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


def _gray(pixels: np.ndarray) -> np.ndarray:
    """8-bit ``(H, W, 3)`` or ``(H, W, 1)`` → float32 gray ``(H, W)`` (call on reduced copies)."""
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return (pixels[:, :, 0] if pixels.ndim == 3 else pixels).astype(np.float32)


def reduced(pixels: np.ndarray, side: int = MEASURE_SIDE) -> np.ndarray:
    """The image area-averaged down to a longest side of ``side`` (unchanged if smaller).

    Every score is measured on a copy of at most ``side``² pixels, so memory and thresholds do
    not depend on the image size (a 144 MP scan costs what a 1 MP one does).
    """
    h, w = pixels.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return pixels
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return small[:, :, None] if small.ndim == 2 and pixels.ndim == 3 else small


def grid_crop(pixels: np.ndarray, side: int = MEASURE_SIDE) -> np.ndarray:
    """A central crop of at most ``side``² pixels that starts on the 8x8 JPEG block grid.

    Resizing would smear the block borders blockiness looks for; a crop keeps them.
    """
    h, w = pixels.shape[:2]
    top = max(0, (h - side) // 2) // 8 * 8
    left = max(0, (w - side) // 2) // 8 * 8
    return pixels[top : top + side, left : left + side]


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the gray image (low = blurry), at most 1024 px a side."""
    gray = _gray(reduced(rgb)).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F, ksize=1).var())


def blockiness(rgb: np.ndarray) -> float:
    """Mean |gradient| across 8x8 block borders / mean |gradient| inside blocks (≈1 if clean).

    Measured on the central crop ``grid_crop`` (at most 1024² pixels on the block grid).
    """
    gray = _gray(grid_crop(rgb)).astype(np.float64)
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


def _octave_energy(gray: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared detail lost by halving ``gray`` (area) and restoring it (bicubic), and the
    halved image."""
    h, w = gray.shape
    half = cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    restored = cv2.resize(half, (w, h), interpolation=cv2.INTER_CUBIC)
    return float(np.mean((gray - restored) ** 2)), half


def finest_octave_ratio(pixels: np.ndarray) -> float:
    """Detail energy of the finest octave over that of the octave two steps coarser.

    A real render or photo keeps detail down to its pixels; an image upscaled from a smaller one,
    or a soft one, has an almost empty finest octave. On 200 clip-art renders the lowest ratio
    was 0.101 (median 0.27) and the highest of their ×2/×3/×4 bicubic upscales 0.087 (median
    ≤ 0.021): benchmarks/upsampled_threshold.py, which set the default threshold 0.094.
    Computed on a central crop (a resize would remove the very octave measured); 1.0 when there
    is too little image or no detail at all to judge.
    """
    gray = _gray(grid_crop(pixels))
    h, w = (gray.shape[0] // 8) * 8, (gray.shape[1] // 8) * 8
    if min(h, w) < 64:
        return 1.0
    gray = gray[:h, :w]
    energies = []
    for _ in range(3):
        energy, gray = _octave_energy(gray)
        energies.append(energy)
    if energies[2] < 1e-3:
        return 1.0
    return energies[0] / energies[2]


def dhash(rgb: np.ndarray) -> int:
    """64-bit difference hash: sign of horizontal gradients of the 9x8 gray thumbnail."""
    gray = _gray(reduced(rgb)).astype(np.float64)
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def hamming_to_many(value: int, others: np.ndarray) -> np.ndarray:
    """Hamming distances between one 64-bit hash and an array of them (uint64)."""
    return np.bitwise_count(np.bitwise_xor(others, np.uint64(value))).astype(np.int64)


def similarity_to_parent(rgb: np.ndarray, parent_rgb: np.ndarray) -> float:
    """1 − mean absolute difference of 32x32 gray versions, in [0, 1] (1 = identical).

    32x32 so that the resize every img2img input goes through does not count as a change.
    """
    a = cv2.resize(_gray(reduced(rgb)), (32, 32), interpolation=cv2.INTER_AREA)
    b = cv2.resize(_gray(reduced(parent_rgb)), (32, 32), interpolation=cv2.INTER_AREA)
    return float(1.0 - np.abs(a - b).mean() / 255.0)


# The JPEG standard's luminance quantization table (Annex K, natural order); libjpeg scales it by
# the quality setting, so the scale of a file's table gives back the quality it was saved at.
ANNEX_K_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def jpeg_quality(luma_table: tuple[int, ...]) -> float:
    """The libjpeg quality (1–100) whose scaling of the standard table best matches this one.

    libjpeg scales the table by S % (S = 5000/q below q 50, 200 − 2q above), rounds and clips to
    1–255; the median of entry ratios over the unclipped entries estimates S.
    """
    ratios = [100.0 * q / s for q, s in zip(luma_table, ANNEX_K_LUMA, strict=True) if 1 < q < 255]
    if not ratios:  # all 1 (quality 100) or all clipped (quality near 1)
        return 100.0 if max(luma_table) <= 1 else 1.0
    scale = float(np.median(ratios))
    quality = 5000.0 / scale if scale > 100 else (200.0 - scale) / 2.0
    return float(min(100.0, max(1.0, quality)))


def jpeg_flags(luma_table: tuple[int, ...] | None, config: IngestConfig) -> list[Flag]:
    """``lossy_jpeg`` for a JPEG saved below ``min_jpeg_quality`` (its artefacts are learnt)."""
    if not luma_table or len(luma_table) != 64:
        return []
    quality = jpeg_quality(luma_table)
    if quality >= config.min_jpeg_quality:
        return []
    detail = f"saved at JPEG quality ≈ {quality:.0f} < {config.min_jpeg_quality}"
    return [Flag("lossy_jpeg", quality, detail)]


def image_scores(rgb: np.ndarray) -> dict[str, float]:
    """Every ``curator.scores.SCORES`` measurement of one image."""
    return {
        "sharpness": laplacian_variance(rgb),
        "fine_detail": finest_octave_ratio(rgb),
        "blocking": blockiness(rgb),
    }


def image_flags(
    rgb: np.ndarray, config: IngestConfig, scores: dict[str, float] | None = None
) -> list[Flag]:
    """The checks that need only the image itself: too small, blurry, blocky.

    ``scores`` are the image's ``image_scores`` when the caller has them already.
    """
    scores = image_scores(rgb) if scores is None else scores
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
    sharpness = scores["sharpness"]
    if sharpness < config.blur_threshold:
        flags.append(
            Flag(
                "blurry", sharpness, f"Laplacian variance {sharpness:.1f} < {config.blur_threshold}"
            )
        )
    octave = scores["fine_detail"]
    if octave < config.upsampled_threshold:
        flags.append(
            Flag(
                "upsampled",
                octave,
                f"finest-octave energy ratio {octave:.3f} < {config.upsampled_threshold} "
                "(upscaled from a smaller image, or soft)",
            )
        )
    blocks = scores["blocking"]
    if blocks > config.blocking_threshold:
        flags.append(
            Flag(
                "jpeg_blocking",
                blocks,
                f"8x8 border ratio {blocks:.2f} > {config.blocking_threshold}",
            )
        )
    return flags
