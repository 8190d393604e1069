"""Write the ``skimage.data`` pictures that ship with scikit-image (no download) as PNGs.

python -m sr.training.sample_images OUT [--min-side 192]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

PICTURES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "chelsea",
    "coffee",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "rocket",
)


def write_sample_images(folder: Path, min_side: int = 192) -> list[Path]:
    """Save every bundled picture whose shorter side is at least ``min_side`` as RGB PNG."""
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PICTURES:
        try:
            arr = np.asarray(getattr(skimage.data, name)())
        except (AttributeError, OSError, ValueError, ImportError):
            continue  # a picture that would need a download (pooch)
        if min(arr.shape[:2]) < min_side:
            continue
        if arr.dtype != np.uint8:
            arr = (arr.astype(np.float64) / max(float(arr.max()), 1.0) * 255).astype(np.uint8)
        path = folder / f"{name}.png"
        Image.fromarray(arr).convert("RGB").save(path)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--min-side", type=int, default=192)
    args = parser.parse_args()
    paths = write_sample_images(args.out, args.min_side)
    print(f"{len(paths)} images written to {args.out}")


if __name__ == "__main__":
    main()
