"""Test images for the curator, built in code (no committed binaries)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")


def natural(name: str = "astronaut", size: int = 96, offset: int = 0) -> np.ndarray:
    """A sharp RGB crop of a skimage picture, resized to ``size`` (uint8 ``(size, size, 3)``)."""
    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    h, w = img.shape[:2]
    side = min(h, w) - offset
    crop = img[offset : offset + side, offset : offset + side, :3]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.LANCZOS))


def save(path: Path, array: np.ndarray, fmt: str = "PNG", **options) -> Path:
    """Save an array with Pillow, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt, **options)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression-bomb stand-in)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def jpeg_bytes(array: np.ndarray, quality: int = 90, **options) -> bytes:
    """JPEG-encode an array."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=quality, **options)
    return buf.getvalue()
