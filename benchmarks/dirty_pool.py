"""A realistic dirty pool for a domain: clean clip art plus what a scraped folder really holds.

The kinds and their shares of the dirty part (≈30 % of the pool, ``DIRTY_SHARES``):
off-domain photos (crops of scikit-image's pictures), fake high resolution (a smaller render
upscaled ×2/×3/×4 by bicubic), blurred renders, JPEG q ≤ 40, near-duplicates of clean images
(shifted or rescaled) and too-small files. The labels go to a CSV *outside* the pool, so curation
never sees them; ``precision_recall`` scores a curation against them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from sr.training.skimage_pictures import REPLAY_PICTURES, picture_rgb

DIRTY_SHARES = {
    "photo": 0.30,
    "fake_hr": 0.25,
    "blurred": 0.15,
    "jpeg": 0.15,
    "near_duplicate": 0.10,
    "too_small": 0.05,
}
# scikit-image pictures that ship in the package (no download): the dirty pool's off-domain
# photos are never the trainer's generic replay photos (data.replay: skimage).
POOL_PHOTOS = ("astronaut", "chelsea", "rocket", "camera", "coins", "moon", "immunohistochemistry")
assert not set(POOL_PHOTOS) & set(REPLAY_PICTURES)


@dataclass(frozen=True)
class PoolItem:
    """A file of the pool and what it really is (``clean`` or one of ``DIRTY_SHARES``)."""

    name: str
    label: str


def _photo_crop(rng: np.random.Generator, k: int) -> Image.Image:
    """A distinct photo: a random crop (256–480 px) of one of the pool's pictures."""
    rgb = picture_rgb(POOL_PHOTOS[k % len(POOL_PHOTOS)])
    h, w = rgb.shape[:2]
    side = int(rng.integers(min(256, h, w), min(480, h, w) + 1))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    return Image.fromarray(rgb[top : top + side, left : left + side])


def _fake_hr(render: Image.Image, scale: int) -> Image.Image:
    small = render.resize((render.width // scale, render.height // scale), Image.Resampling.BICUBIC)
    return small.resize(render.size, Image.Resampling.BICUBIC)


def _near_duplicate(render: Image.Image, rng: np.random.Generator) -> Image.Image:
    if rng.random() < 0.5:  # shifted by a few pixels (a re-crop)
        dx, dy = (int(v) for v in rng.integers(6, 20, 2))
        return render.crop((dx, dy, render.width, render.height))
    factor = float(rng.uniform(0.85, 0.95))  # re-saved smaller
    size = (round(render.width * factor), round(render.height * factor))
    return render.resize(size, Image.Resampling.LANCZOS)


def _blurred(render: Image.Image, radius: float) -> Image.Image:
    return render.filter(ImageFilter.GaussianBlur(radius))


def _too_small(render: Image.Image, side: int) -> Image.Image:
    small = render.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


def _jpeg(render: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    render.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def build_pool(
    clean: list[Path], spare: list[Path], out: Path, labels_csv: Path, *, seed: int = 0
) -> list[PoolItem]:
    """Write the pool into ``out`` and the labels to ``labels_csv`` (outside ``out``).

    ``clean`` renders are copied as they are; ``spare`` renders (never in ``clean``) are degraded
    into fake-HR, blurred, JPEG and too-small files; near-duplicates copy clean ones. The dirty
    part is 30 % of the pool, split by ``DIRTY_SHARES``.
    """
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_dirty = round(len(clean) * 0.3 / 0.7)
    counts = {kind: round(n_dirty * share) for kind, share in DIRTY_SHARES.items()}
    items: list[PoolItem] = []
    for path in clean:
        (out / path.name).write_bytes(path.read_bytes())
        items.append(PoolItem(path.name, "clean"))
    spares = iter(spare)
    for k in range(counts["photo"]):
        name = f"photo-{k:03d}.png"
        _photo_crop(rng, k).save(out / name)
        items.append(PoolItem(name, "photo"))
    # degraded copies of spare renders (never clean ones): kind → (name suffix, degradation)
    degrade = {
        "fake_hr": ("-up.png", lambda im: _fake_hr(im, int(rng.integers(2, 5)))),
        "blurred": (
            "-soft.png",
            lambda im: im.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 3))),
        ),
        "jpeg": (".jpg", lambda im: _jpeg(im, int(rng.integers(15, 41)))),
        "too_small": ("-small.png", lambda im: _too_small(im, int(rng.integers(96, 160)))),
    }
    for kind, (suffix, make) in degrade.items():
        for _ in range(counts[kind]):
            src = next(spares)
            name = f"{src.stem}{suffix}"
            result = make(Image.open(src).convert("RGB"))
            if isinstance(result, bytes):
                (out / name).write_bytes(result)
            else:
                result.save(out / name)
            items.append(PoolItem(name, kind))
    picks = rng.choice(len(clean), size=counts["near_duplicate"], replace=False)
    for k in picks:
        src = clean[int(k)]
        name = f"{src.stem}-copy.png"
        _near_duplicate(Image.open(src).convert("RGB"), rng).save(out / name)
        items.append(PoolItem(name, "near_duplicate"))
    labels_csv.parent.mkdir(parents=True, exist_ok=True)
    with open(labels_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows((item.name, item.label) for item in items)
    return items


def read_labels(labels_csv: Path) -> dict[str, str]:
    """File name → label, as ``build_pool`` wrote them."""
    with open(labels_csv, newline="") as handle:
        return {row["file"]: row["label"] for row in csv.DictReader(handle)}


def precision_recall(labels: dict[str, str], removed: Iterable[str]) -> dict[str, float]:
    """Curation as a detector of dirty files: precision and recall of the removed set, and the
    recall per dirty kind."""
    removed = set(removed)
    dirty = {name for name, label in labels.items() if label != "clean"}
    hits = len(removed & dirty)
    report = {
        "precision": hits / len(removed) if removed else 1.0,
        "recall": hits / len(dirty) if dirty else 1.0,
        "removed": float(len(removed)),
        "dirty": float(len(dirty)),
    }
    for kind in DIRTY_SHARES:
        members = {n for n, label in labels.items() if label == kind}
        if members:
            report[f"recall_{kind}"] = len(removed & members) / len(members)
    return report
