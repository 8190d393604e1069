"""A baseline JPEG written band by band, so a huge upscale never holds its whole output.

No Python JPEG encoder takes rows incrementally, so each band of rows (a multiple of 8 rows) is
encoded on its own by OpenCV (libjpeg, standard Huffman tables, fixed quality and 4:4:4), and the
bands' entropy-coded segments are joined into one image with restart markers between them: a
restart interval of exactly one band resets the DC prediction where each band's encoding began,
so the file decodes to exactly the pixels of encoding the whole image at once
(``tests/sr/test_jpeg_stream.py``). The header (tables, and the frame with the full height) and
the EXIF (APP1) and ICC (APP2) segments are written once.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import cv2
import numpy as np

QUALITY = 95
_SOI, _EOI, _SOS, _SOF0, _DRI = b"\xff\xd8", b"\xff\xd9", 0xDA, 0xC0, b"\xff\xdd"
_ICC_CHUNK = 65519 - 14  # APP2 payload minus "ICC_PROFILE\0" and the two sequence bytes


class JpegError(ValueError):
    """OpenCV could not encode a band, or its output is not the baseline JPEG expected."""


def _segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(marker, whole segment) of everything before the scan, and the entropy-coded data."""
    if not data.startswith(_SOI) or not data.endswith(_EOI):
        raise JpegError("encoder output is not a complete JPEG")
    pos, found = 2, []
    while pos < len(data):
        if data[pos] != 0xFF:
            raise JpegError("unexpected byte between JPEG segments")
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        found.append((marker, segment))
        pos += 2 + length
        if marker == _SOS:
            return found, data[pos:-2]
    raise JpegError("no scan in the encoder output")


def _metadata(icc: bytes | None, exif: bytes | None) -> bytes:
    out = b""
    body = b""
    if exif:
        body = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
    if body and len(body) + 2 <= 0xFFFF:  # a larger EXIF cannot be one APP1 segment: dropped
        out += b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    if icc:
        chunks = [icc[i : i + _ICC_CHUNK] for i in range(0, len(icc), _ICC_CHUNK)]
        for n, chunk in enumerate(chunks, start=1):
            body = b"ICC_PROFILE\x00" + bytes([n, len(chunks)]) + chunk
            out += b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body
    return out


class JpegBandWriter:
    """Write an RGB or gray 8-bit JPEG of ``width`` x ``height`` from bands of rows, in order.

    Every band but the last must have ``band_rows`` rows (a multiple of 8).
    """

    def __init__(
        self,
        handle: BinaryIO,
        width: int,
        height: int,
        band_rows: int,
        icc: bytes | None = None,
        exif: bytes | None = None,
    ) -> None:
        if band_rows % 8 or band_rows <= 0:
            raise ValueError(f"band_rows must be a positive multiple of 8, got {band_rows}")
        self.handle, self.width, self.height, self.band_rows = handle, width, height, band_rows
        self.metadata = _metadata(icc, exif)
        self.rows_done = 0
        self.bands_done = 0

    def write_band(self, rows: np.ndarray) -> None:
        """Encode ``rows`` ``(n, W)`` / ``(n, W, 1)`` gray or ``(n, W, 3)`` RGB uint8."""
        last = self.rows_done + len(rows) == self.height
        if len(rows) != self.band_rows and not last:
            raise JpegError(f"band of {len(rows)} rows; expected {self.band_rows}")
        if rows.ndim == 3 and rows.shape[2] == 3:
            rows = cv2.cvtColor(rows, cv2.COLOR_RGB2BGR)
        elif rows.ndim == 3:
            rows = rows[:, :, 0]
        params = [
            cv2.IMWRITE_JPEG_QUALITY, QUALITY,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        ]  # fmt: skip
        ok, encoded = cv2.imencode(".jpg", rows, params)
        if not ok:
            raise JpegError("cannot encode a JPEG band")
        segments, scan = _segments(encoded.tobytes())
        if self.bands_done == 0:
            self._write_header(segments)
        else:
            self.handle.write(bytes([0xFF, 0xD0 + (self.bands_done - 1) % 8]))  # RSTn
        self.handle.write(scan)
        self.rows_done += len(rows)
        self.bands_done += 1

    def _write_header(self, segments: list[tuple[int, bytes]]) -> None:
        mcus_per_band = (self.band_rows // 8) * -(-self.width // 8)
        if mcus_per_band > 0xFFFF:
            raise JpegError(f"{self.width} px wide bands are too long for a restart interval")
        self.handle.write(_SOI)
        for marker, segment in segments:  # the JFIF header first, then EXIF and ICC
            if marker == 0xE0:
                self.handle.write(segment)
        self.handle.write(self.metadata)
        for marker, segment in segments:
            if 0xE0 <= marker <= 0xEF:
                continue  # APPn: written above (the encoder's own) or replaced by ours
            if marker == _SOS:
                self.handle.write(_DRI + struct.pack(">HH", 4, mcus_per_band))
                self.handle.write(segment)
            elif marker == _SOF0:  # the frame, with the whole image's height
                self.handle.write(segment[:5] + struct.pack(">H", self.height) + segment[7:])
            else:
                self.handle.write(segment)

    def finish(self) -> None:
        """Close the image; every row must have been written."""
        if self.rows_done != self.height:
            raise JpegError(f"wrote {self.rows_done} of {self.height} rows")
        self.handle.write(_EOI)
