"""The ``skimage.data`` pictures that ship with scikit-image (no download), as RGB or PNGs.

The one place that decodes them as pixels (the replay photos, the clip-art benchmark's
off-domain photos). ``curator.sample`` copies the package's files instead, on purpose: its
sample workspace ingests real PNG, JPEG and TIFF files the way a user's folder would.

python -m sr.training.skimage_pictures OUT [--min-side 192]
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


# Generic photos for replay during a domain fine-tune (``data.replay: skimage``): natural
# textures, a scan and space, none of which any evaluation uses. The clip-art experiment's dirty
# pool takes its off-domain photos from the other pictures, so no picture serves both.
REPLAY_PICTURES = ("brick", "coffee", "grass", "gravel", "hubble_deep_field", "retina")
REPLAY_BUILTIN = "skimage"  # the value of data.replay that means these pictures


def replay_folder() -> Path:
    """The built-in replay photos as PNGs in the user cache (written on first use)."""
    from sr.weights import cache_dir

    folder = cache_dir() / "replay-skimage"
    if not all((folder / f"{name}.png").is_file() for name in REPLAY_PICTURES):
        write_sample_images(folder, names=REPLAY_PICTURES)
    return folder


def picture_rgb(name: str) -> np.ndarray:
    """One ``skimage.data`` picture as 8-bit RGB (grey and boolean pictures scaled to 0–255)."""
    import skimage.data

    pixels = np.asarray(getattr(skimage.data, name)())
    if pixels.dtype != np.uint8:
        pixels = (pixels.astype(np.float64) / max(float(pixels.max()), 1.0) * 255).round()
        pixels = pixels.astype(np.uint8)
    if pixels.ndim == 2:
        return np.dstack([pixels] * 3)
    return np.ascontiguousarray(pixels[..., :3])


def write_sample_images(
    folder: Path, min_side: int = 192, names: tuple[str, ...] = PICTURES
) -> list[Path]:
    """Save every bundled picture whose shorter side is at least ``min_side`` as RGB PNG."""
    from PIL import Image

    from sr.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        try:
            rgb = picture_rgb(name)
        except (AttributeError, OSError, ValueError, ImportError):
            continue  # a picture that would need a download (pooch)
        if min(rgb.shape[:2]) < min_side:
            continue
        path = folder / f"{name}.png"
        with atomic_path(path, suffix=".png") as tmp:  # processes may write the cache at once
            Image.fromarray(rgb).save(tmp)
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
