"""A PNG encoder that takes rows a band at a time, so an output never has to be whole in memory.

``PngWriter`` writes the signature, IHDR and the metadata chunks (iCCP, eXIf) at once, then
filters and deflates each band of rows as it comes and writes the compressed data out in IDAT
chunks; ``finish`` adds IEND. Memory: the band given to it plus about 5 MB of filter work.

Each row gets the PNG filter (None, Sub, Up, Average or Paeth) whose output has the smallest sum
of absolute signed bytes, the heuristic libpng uses; all five are computed with numpy a few rows
at a time. Files come out about as small as OpenCV's (see ``tests/sr/test_png_stream.py``).
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → gray, gray+alpha, RGB, RGBA
_IDAT_SIZE = 1 << 18  # compressed bytes per IDAT chunk
_FILTER_BYTES = 1 << 17  # raw bytes filtered per numpy pass (temporaries: ~35x this)
_BYTE_COST = np.minimum(np.arange(256), 256 - np.arange(256)).astype(np.uint8)  # |signed byte|


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def metadata_chunks(icc: bytes | None, exif: bytes | None) -> bytes:
    """iCCP and eXIf chunks (both belong before the first IDAT)."""
    extra = b""
    if icc:
        extra += png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc))
    if exif:
        extra += png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    return extra


def _filter_rows(raw: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    """Filtered scanlines ``(n, 1 + L)`` (filter byte first) of raw rows ``(n, L)`` uint8.

    ``above`` is the raw row before the first one (zeros for the first row of the image).
    """
    n, length = raw.shape
    up = np.empty_like(raw)
    up[0] = above
    up[1:] = raw[:-1]
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    up_left = np.zeros_like(raw)
    up_left[:, bpp:] = up[:, :-bpp]
    a, b, c = (x.astype(np.int16) for x in (left, up, up_left))
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
    candidates = np.stack(
        [
            raw,
            raw - left,
            raw - up,
            raw - ((a + b) >> 1).astype(np.uint8),
            raw - paeth,
        ]
    )  # (5, n, L); uint8 arithmetic wraps modulo 256 as PNG filters do
    cost = _BYTE_COST[candidates].sum(axis=2, dtype=np.int64)
    best = cost.argmin(axis=0)  # (n,)
    out = np.empty((n, 1 + length), np.uint8)
    out[:, 0] = best
    out[:, 1:] = candidates[best, np.arange(n)]
    return out


class PngWriter:
    """Writes one PNG of ``height`` rows to ``handle``, a band of rows per ``write_rows`` call."""

    def __init__(
        self,
        handle: BinaryIO,
        width: int,
        height: int,
        channels: int,
        bit_depth: int,
        icc: bytes | None = None,
        exif: bytes | None = None,
        level: int = 6,
    ) -> None:
        if channels not in COLOUR_TYPES or bit_depth not in (8, 16):
            raise ValueError(f"cannot write a PNG of {channels} channels at {bit_depth} bits")
        if width < 1 or height < 1:
            raise ValueError(f"cannot write an empty PNG ({width}x{height})")
        self._handle = handle
        self._shape = (width, channels)
        self._height = height
        self._dtype = np.dtype(">u2" if bit_depth == 16 else np.uint8)
        self._bpp = channels * self._dtype.itemsize
        self._above = np.zeros(width * self._bpp, np.uint8)
        self._rows = 0
        self._deflate = zlib.compressobj(level)
        self._pending: list[bytes] = []
        self._pending_size = 0
        header = struct.pack(">IIBBBBB", width, height, bit_depth, COLOUR_TYPES[channels], 0, 0, 0)
        handle.write(SIGNATURE + png_chunk(b"IHDR", header) + metadata_chunks(icc, exif))

    def write_rows(self, pixels: np.ndarray, alpha: np.ndarray | None = None) -> None:
        """Append rows: ``pixels`` ``(n, W, C)`` (C without alpha) and ``alpha`` ``(n, W)``."""
        channels = pixels.shape[2] + (alpha is not None)
        if (pixels.shape[1], channels) != self._shape:
            raise ValueError(f"rows of {pixels.shape[1:]} do not fit a PNG of {self._shape}")
        if self._rows + len(pixels) > self._height:
            raise ValueError(f"more than the {self._height} rows of this PNG")
        step = max(1, _FILTER_BYTES // len(self._above))
        for top in range(0, len(pixels), step):
            part = pixels[top : top + step]
            if alpha is not None:
                part = np.dstack([part, alpha[top : top + step]])
            raw = np.ascontiguousarray(part, dtype=self._dtype).view(np.uint8)
            raw = raw.reshape(len(part), -1)
            self._emit(self._deflate.compress(_filter_rows(raw, self._above, self._bpp)))
            self._above = raw[-1].copy()
        self._rows += len(pixels)

    def finish(self) -> None:
        """Flush the compressed data and end the file; every row must have been written."""
        if self._rows != self._height:
            raise ValueError(f"PNG has {self._rows} of its {self._height} rows")
        self._emit(self._deflate.flush(), force=True)
        self._handle.write(png_chunk(b"IEND", b""))

    def _emit(self, data: bytes, force: bool = False) -> None:
        """Collect compressed bytes; write them as one IDAT chunk once there are enough."""
        if data:
            self._pending.append(data)
            self._pending_size += len(data)
        if self._pending_size >= _IDAT_SIZE or (force and self._pending):
            self._handle.write(png_chunk(b"IDAT", b"".join(self._pending)))
            self._pending, self._pending_size = [], 0
