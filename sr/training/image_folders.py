"""Finding and loading training images: a ``curator export`` folder or any folder of images.

An export (``OUT/train/metadata.jsonl`` with a ``file_name`` column, ``OUT/validation/...``)
brings its own train/validation split. A plain folder is split deterministically by a hash of
each file's relative path (val if the hash falls below ``val_fraction``), so adding images never
moves existing ones between splits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sr import image_files
from sr.cli_boundary import display_path
from sr.export_layout import METADATA, TRAIN, VALIDATION, is_export
from sr.hashed_split import hash_rank, validation_items
from sr.image_formats import has_suffix

Warn = Callable[[str], None]


@dataclass(frozen=True)
class ImageSplit:
    """Image files of the train and validation splits; ``source`` is ``export`` or ``folder``."""

    train: list[Path]
    val: list[Path]
    source: str


def _export_split(folder: Path, warn: Warn) -> list[Path]:
    """Files listed in ``folder/metadata.jsonl``, in file order."""
    meta = folder / METADATA
    if not meta.is_file():
        return []
    files = []
    for lineno, line in enumerate(meta.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            name = json.loads(line)["file_name"]
        except (json.JSONDecodeError, KeyError, TypeError):
            warn(f"{display_path(meta)}:{lineno}: skipped (no file_name)")
            continue
        files.append(folder / name)
    return files


def _val_rank(relative: str) -> float:
    """A stable number in [0, 1) per file name (its bytes: names need not be UTF-8)."""
    return hash_rank(os.fsencode(relative), "sha1")  # sha1: what earlier runs split by


def split_images(root: Path, val_fraction: float, warn: Warn = print) -> ImageSplit:
    """Train/val image files under ``root`` (export split, or a hashed split of a plain folder)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{display_path(root)}: no such folder")
    if is_export(root):
        return ImageSplit(
            _export_split(root / TRAIN, warn), _export_split(root / VALIDATION, warn), "export"
        )
    files = sorted(p for p in root.rglob("*") if p.is_file() and has_suffix(p))
    ranks = {p: _val_rank(p.relative_to(root).as_posix()) for p in files}
    val = validation_items(ranks, val_fraction)
    return ImageSplit([p for p in files if p not in val], [p for p in files if p in val], "folder")


def read_image(path: Path) -> torch.Tensor:
    """RGB uint8 ``(3, H, W)``: EXIF orientation applied, gray/alpha/16-bit made 8-bit RGB."""
    pixels = image_files.eight_bit_rgb(image_files.read_image(path))  # alpha dropped
    pixels = np.require(pixels, requirements=["C_CONTIGUOUS", "WRITEABLE"])  # torch warns if not
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def load_images(paths: list[Path], min_side: int, warn: Warn = print) -> list[torch.Tensor]:
    """Decode ``paths`` into memory; unreadable or too small files are skipped with a reason."""
    images = []
    for path in paths:
        shown = display_path(path)
        try:
            img = read_image(path)
        except (OSError, ValueError) as exc:  # ImageFileError's reason already names the file
            reason = display_path(str(exc)).removeprefix(f"{shown}: ")
            warn(f"{shown}: skipped (cannot read image: {reason})")
            continue
        h, w = img.shape[-2:]
        if min(h, w) < min_side:
            warn(
                f"{shown}: skipped ({w}x{h} is smaller than {min_side}x{min_side}, "
                "the HR crop of the largest patch at the maximum scale)"
            )
            continue
        images.append(img)
    return images


def spread(items: list[Path], count: int) -> list[Path]:
    """``count`` of ``items`` evenly spaced from the first (all of them if there are no more).

    Validation uses a spread, not the first ``count``: files sorted by name group by prefix, and
    the first few of a clip-art set were nearly all one category.
    """
    if count >= len(items):
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]
