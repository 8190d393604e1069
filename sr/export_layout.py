"""The layout of an export folder: what ``curator export`` writes and ``sr train --data`` reads.

``OUT/train/`` and ``OUT/validation/`` hold the images and a ``metadata.jsonl`` each (one JSON
object per image with at least ``file_name``: the Hugging Face imagefolder layout), ``OUT/``
holds ``README.md`` (the dataset card) and ``lineage.json`` (the catalog state it came from, see
``sr.lineage``). Torch-free, so the studio can recognise exports without importing the trainer.
"""

from __future__ import annotations

from pathlib import Path

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)
METADATA = "metadata.jsonl"
LINEAGE = "lineage.json"
CARD = "README.md"
# An empty file of this name also makes a folder an export (one assembled by hand or by another
# tool before its splits' metadata is written).
MARKER = ".curator-export.json"


def metadata_path(root: str | Path, split: str) -> Path:
    """``OUT/<split>/metadata.jsonl``."""
    return Path(root) / split / METADATA


def is_export(root: str | Path) -> bool:
    """True for an export folder (a split's ``metadata.jsonl`` or the marker file)."""
    markers = [metadata_path(root, split) for split in SPLITS]
    return any(m.is_file() for m in markers) or (Path(root) / MARKER).is_file()
