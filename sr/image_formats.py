"""Image file formats: which file suffixes the project reads and which formats it writes.

The one owner of these lists (import-light: no torch, no decoders), so the upscaler, the trainer,
evaluation sets and the curator's ingest agree on what an image file is.
"""

from __future__ import annotations

from pathlib import Path

# What `sr upscale --format` and ingest's stored copies write, and the suffix each gets.
FORMAT_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}

# The format each readable suffix implies: the files a training folder, an evaluation set or an
# upscale batch folder is made of.
EXTENSION_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
READ_SUFFIXES = frozenset(EXTENSION_FORMATS)

# Ingest also looks at ``.jfif`` (the suffix browsers give saved JPEGs: taken) and ``.gif``
# (refused with a line saying why, rather than skipped without a word): scraped folders have both.
INGEST_SUFFIXES = READ_SUFFIXES | {".gif", ".jfif"}


def writable_format(fmt: str | None) -> str:
    """``fmt`` (a Pillow format name) when it can be written, else PNG (e.g. for a GIF input)."""
    fmt = (fmt or "").upper()
    return fmt if fmt in FORMAT_EXTENSIONS else "PNG"


def has_suffix(path: Path, suffixes: frozenset[str] = READ_SUFFIXES) -> bool:
    """Whether ``path``'s suffix (any case) is one of ``suffixes``."""
    return path.suffix.lower() in suffixes
