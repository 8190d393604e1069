"""The `upsampled` flag: real renders and photos pass, their bicubic ×2/×3/×4 upscales fail."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw

from curator.config import IngestConfig
from curator.quality import finest_octave_ratio, image_flags


def clip_art(seed: int, side: int = 480) -> np.ndarray:
    """Flat colours, hard antialiased edges and thin lines, drawn at 4x and area-reduced (as an
    SVG renderer antialiases)."""
    rng = np.random.default_rng(seed)
    big = Image.new("RGB", (side * 4, side * 4), "white")
    draw = ImageDraw.Draw(big)
    for _ in range(12):
        x0, y0 = rng.integers(0, side * 4, 2)
        w, h = rng.integers(side // 2, side * 2, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = rng.integers(0, 3)
        box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
        if shape == 0:
            draw.ellipse(box, fill=colour, outline="black", width=12)
        elif shape == 1:
            draw.rectangle(box, fill=colour, outline="black", width=8)
        else:
            draw.line(box, fill=colour, width=int(rng.integers(4, 24)))
    return np.asarray(big.resize((side, side), Image.Resampling.BOX))


def bicubic_upscaled(rgb: np.ndarray, scale: int) -> np.ndarray:
    """``rgb`` reduced by ``scale`` and brought back to its size with bicubic (fake HR)."""
    h, w = rgb.shape[:2]
    im = Image.fromarray(rgb).resize((w // scale, h // scale), Image.Resampling.BICUBIC)
    return np.asarray(im.resize((w, h), Image.Resampling.BICUBIC))


def _photo(name: str) -> np.ndarray:
    pixels = getattr(skimage.data, name)()
    return np.dstack([pixels] * 3) if pixels.ndim == 2 else pixels[:, :, :3]


@pytest.mark.parametrize("seed", range(6))
def test_upsampled_flag__renders_pass_their_upscales_fail(seed: int) -> None:
    config = IngestConfig()
    art = clip_art(seed)
    assert "upsampled" not in {f.name for f in image_flags(art, config)}
    for scale in (2, 3, 4):
        flags = {f.name: f for f in image_flags(bicubic_upscaled(art, scale), config)}
        assert "upsampled" in flags, (seed, scale)
        assert flags["upsampled"].value < config.upsampled_threshold


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera", "chelsea"])
def test_upsampled_flag__photos_pass_their_upscales_fail(name: str) -> None:
    config = IngestConfig()
    photo = _photo(name)
    assert finest_octave_ratio(photo) >= config.upsampled_threshold
    assert finest_octave_ratio(bicubic_upscaled(photo, 2)) < config.upsampled_threshold


def test_finest_octave_ratio__straightforward_reference() -> None:
    photo = _photo("astronaut")
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float64)
    energies = []
    for _ in range(3):  # detail lost by halving (area) and restoring (bicubic), octave by octave
        h, w = gray.shape
        half = cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        restored = cv2.resize(half, (w, h), interpolation=cv2.INTER_CUBIC)
        energies.append(((gray - restored) ** 2).mean())
        gray = half
    assert finest_octave_ratio(photo) == pytest.approx(energies[0] / energies[2], rel=1e-3)


def test_finest_octave_ratio__flat_or_tiny_images_are_not_judged() -> None:
    assert finest_octave_ratio(np.full((300, 300, 3), 200, np.uint8)) == 1.0
    assert finest_octave_ratio(np.zeros((40, 40, 3), np.uint8)) == 1.0
