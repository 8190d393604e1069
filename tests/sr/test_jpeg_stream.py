"""Streamed JPEG: bands joined with restart markers decode exactly like one whole encoding."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from sr.jpeg_stream import JpegBandWriter, JpegError


def _whole(pixels: np.ndarray) -> np.ndarray:
    """Decoded pixels of OpenCV encoding the whole image at once (same quality, 4:4:4)."""
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if pixels.ndim == 3 else pixels
    params = [
        cv2.IMWRITE_JPEG_QUALITY, 95,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    ]  # fmt: skip
    ok, data = cv2.imencode(".jpg", bgr, params)
    assert ok
    return np.asarray(Image.open(io.BytesIO(data.tobytes())))


def _streamed(pixels: np.ndarray, band_rows: int, **meta) -> bytes:
    buf = io.BytesIO()
    writer = JpegBandWriter(buf, pixels.shape[1], pixels.shape[0], band_rows, **meta)
    for top in range(0, len(pixels), band_rows):
        writer.write_band(pixels[top : top + band_rows])
    writer.finish()
    return buf.getvalue()


@pytest.mark.parametrize(
    ("height", "width", "band_rows"), [(64, 48, 16), (75, 33, 8), (40, 40, 64)]
)
@pytest.mark.parametrize("gray", [False, True])
def test_jpeg_band_writer__decodes_like_one_whole_encoding(height, width, band_rows, gray):
    rng = np.random.default_rng(height)
    small = rng.integers(0, 256, (height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    pixels = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    if gray:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    data = _streamed(pixels, band_rows)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (width, height) and im.mode == ("L" if gray else "RGB")
        decoded = np.asarray(im)
    assert np.array_equal(decoded, _whole(pixels))
    decoded_cv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded_cv is not None and decoded_cv.shape[:2] == (height, width)


def test_jpeg_band_writer__keeps_exif_and_icc():
    pixels = np.full((32, 32, 3), 128, np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "maker"  # Make
    icc = bytes(range(256)) * 300  # > one APP2 segment: split in chunks
    data = _streamed(pixels, 16, icc=icc, exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["icc_profile"] == icc
        assert im.getexif()[0x010F] == "maker"


def test_jpeg_band_writer__refuses_wrong_bands():
    buf = io.BytesIO()
    with pytest.raises(ValueError, match="multiple of 8"):
        JpegBandWriter(buf, 8, 8, 12)
    writer = JpegBandWriter(buf, 16, 32, 16)
    with pytest.raises(JpegError, match="expected 16"):
        writer.write_band(np.zeros((8, 16, 3), np.uint8))
    writer.write_band(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(JpegError, match="16 of 32 rows"):
        writer.finish()


def test_jpeg_band_writer__drops_an_exif_too_large_for_one_segment():
    pixels = np.full((16, 16, 3), 90, np.uint8)
    data = _streamed(pixels, 16, exif=b"Exif\x00\x00" + b"\x00" * 70000)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (16, 16) and not im.info.get("exif")
