"""Measure the `upsampled` flag's threshold: real clip-art renders and photos vs their upscales.

    python benchmarks/upsampled_threshold.py [--renders 200]

Renders clip art from the experiment's pool split (never the reserved categories, never the
held-out test split), makes bicubic ×2/×3/×4 upscales of each (a smaller render brought back to
480 px) and prints the finest-octave energy ratio's percentiles per group, for the scikit-image
photos too, with the share of each group the configured threshold flags.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.clipart_data import eligible_svgs, render_split, require_tools, split_by_hash
from benchmarks.dirty_pool import POOL_PHOTOS
from curator.config import IngestConfig
from curator.quality import finest_octave_ratio
from sr.training.skimage_pictures import REPLAY_PICTURES, picture_rgb

SPLITS = {"test": 160, "val": 40, "pool": 1200}  # the experiment's split (domain_finetune.py)


def upscaled(rgb: np.ndarray, scale: int) -> np.ndarray:
    """``rgb`` reduced by ``scale`` and restored to its size with bicubic."""
    h, w = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((w // scale, h // scale), Image.Resampling.BICUBIC)
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))


def report(name: str, values: list[float], threshold: float) -> None:
    v = np.array(values)
    p = np.percentile(v, [0, 5, 50, 95, 100])
    flagged = (v < threshold).mean()
    print(
        f"{name:<16} n={len(v):<4} min {p[0]:.3f}  p5 {p[1]:.3f}  median {p[2]:.3f}  "
        f"p95 {p[3]:.3f}  max {p[4]:.3f}  flagged {flagged:6.1%}"
    )


def main() -> None:
    """Print the ratio's distribution per group and how the threshold separates them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()
    require_tools()
    threshold = IngestConfig().upsampled_threshold
    pool = split_by_hash(eligible_svgs(), SPLITS)["pool"]
    with tempfile.TemporaryDirectory() as tmp:
        files = render_split(pool, Path(tmp), args.renders)
        arts = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    photos = [picture_rgb(n) for n in POOL_PHOTOS + REPLAY_PICTURES]
    print(f"threshold (ingest.upsampled_threshold): {threshold}")
    for label, images in (("clip art", arts), ("photo", photos)):
        report(f"{label}", [finest_octave_ratio(a) for a in images], threshold)
        for scale in (2, 3, 4):
            ratios = [finest_octave_ratio(upscaled(a, scale)) for a in images]
            report(f"{label} x{scale} up", ratios, threshold)


if __name__ == "__main__":
    main()
