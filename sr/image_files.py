"""Reading and writing images the way users expect an upscaler to treat them.

What survives a round trip: alpha (as a separate plane), grayscale stays grayscale, 16-bit PNG/TIFF
stay 16-bit, EXIF orientation is applied to the pixels (and reset to 1 in the EXIF that is kept),
the ICC profile is kept. Pillow does the work except where it cannot: it truncates 16-bit colour,
so 16-bit colour PNGs are decoded/encoded with OpenCV and 16-bit TIFFs with tifffile.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from sr.atomic import atomic_path, write_atomic
from sr.image_formats import EXTENSION_FORMATS, FORMAT_EXTENSIONS
from sr.jpeg_stream import JpegBandWriter
from sr.png_stream import PngWriter, metadata_chunks

EXIF_ORIENTATION = 0x0112
SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}


class ImageFileError(ValueError):
    """An image that cannot be read or written; the message names the file and the reason."""


@dataclass
class ImageData:
    """Pixels ``(H, W, C)`` with C = 1 (gray) or 3 (RGB), uint8 or uint16, plus what to keep."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    format: str
    icc_profile: bytes | None = None
    exif: bytes | None = None
    frames: int = 1

    @property
    def bit_depth(self) -> int:
        """8 or 16."""
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def max_value(self) -> int:
        """Largest code value: 255 or 65535."""
        return 65535 if self.bit_depth == 16 else 255

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.pixels.shape[0], self.pixels.shape[1]


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an ``(H, W, ...)`` array."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a[::-1].swapaxes(0, 1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: a[:, ::-1].swapaxes(0, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(array)) if op else array


def _is_sixteen_bit(im: Image.Image) -> bool:
    if im.mode.startswith("I;16") or im.mode == "I":
        return True
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) == 16
    return bool(im.tile) and ";16" in str(im.tile[0].args)


def _split_channels(array: np.ndarray, has_alpha: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if array.ndim == 2:
        array = array[:, :, None]
    if has_alpha:
        return np.ascontiguousarray(array[:, :, :-1]), np.ascontiguousarray(array[:, :, -1])
    return array, None


def _raw_mode(im: Image.Image) -> str:
    """How the file stores its samples (e.g. ``LA;16B``); ask before ``load()``, which drops it."""
    return str(im.tile[0].args) if im.tile else ""


def _decode_sixteen(
    path: Path, im: Image.Image, raw_mode: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit pixels: gray through Pillow, colour through tifffile (TIFF) or OpenCV (PNG)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(im)
        if array.max(initial=0) > 65535 or array.min(initial=0) < 0:
            raise ImageFileError(f"{path}: unsupported mode {im.mode} (values outside 16 bits)")
        return array.astype(np.uint16)[:, :, None], None
    if im.format == "TIFF":
        array = tifffile.imread(path)
        if array.dtype != np.uint16:
            raise ImageFileError(f"{path}: unsupported TIFF sample type {array.dtype}")
        channels = 1 if array.ndim == 2 else array.shape[2]
        return _split_channels(array, has_alpha=channels in (2, 4))
    array = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise ImageFileError(f"{path}: cannot decode 16-bit PNG")
    if array.ndim == 3:
        array = cv2.cvtColor(
            array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        )
    # OpenCV expands gray+alpha to four channels; Pillow calls a 16-bit one RGBA (raw LA;16B).
    if im.mode == "LA" or "LA;16" in raw_mode:
        return np.ascontiguousarray(array[:, :, :1]), np.ascontiguousarray(array[:, :, 3])
    return _split_channels(array, has_alpha=array.ndim == 3 and array.shape[2] == 4)


def _decode_eight(path: Path, im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    converts = {
        "1": "L",
        "La": "LA",
        "PA": "RGBA",
        "RGBa": "RGBA",
        "RGBX": "RGB",
        "CMYK": "RGB",
        "YCbCr": "RGB",
        "HSV": "RGB",
    }
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in converts:
        im = im.convert(converts[im.mode])
    elif im.mode not in ("L", "LA", "RGB", "RGBA"):
        raise ImageFileError(f"{path}: unsupported image mode {im.mode}")
    return _split_channels(np.asarray(im), has_alpha=im.mode in ("LA", "RGBA"))


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _read_tiff(path: Path) -> ImageData:
    """A TIFF that Pillow cannot open (16-bit gray+alpha, as we write them): via tifffile."""
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            array = page.asarray()
            icc = page.tags.get(34675)
            icc_bytes = bytes(icc.value) if icc is not None else None
            frames = len(tif.pages)
    except (OSError, ValueError, struct.error) as exc:
        raise ImageFileError(f"{path}: truncated or corrupt image ({exc})") from None
    channels = 1 if array.ndim == 2 else array.shape[-1]
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3) or channels > 4:
        raise ImageFileError(f"{path}: unsupported TIFF layout {array.shape} {array.dtype}")
    pixels, alpha = _split_channels(array, has_alpha=channels in (2, 4))
    return ImageData(pixels, alpha, "TIFF", icc_bytes, None, frames)


def read_image(path: str | Path) -> ImageData:
    """Decode ``path``; raises ``ImageFileError`` with a one-line reason for anything unusable."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageFileError(f"{path}: empty file (0 bytes)")
    except OSError as exc:
        raise ImageFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
            frames = getattr(im, "n_frames", 1)
            sixteen = _is_sixteen_bit(im)  # must be asked before load(), which drops the tile info
            raw_mode = _raw_mode(im)
            im.load()
            icc = im.info.get("icc_profile") or None
            exif = im.getexif()
            orientation = int(exif.get(EXIF_ORIENTATION, 1) or 1)
            if sixteen:
                pixels, alpha = _decode_sixteen(path, im, raw_mode)
            else:
                if im.mode == "CMYK":
                    icc = None  # a CMYK profile does not describe the RGB pixels we produce
                pixels, alpha = _decode_eight(path, im)
    except ImageFileError:
        raise
    except UnidentifiedImageError:
        if _is_tiff(path):
            return _read_tiff(path)
        raise ImageFileError(f"{path}: not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFileError(f"{path}: refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise ImageFileError(f"{path}: truncated or corrupt image ({exc})") from None
    pixels = _orient(pixels, orientation)
    alpha = _orient(alpha, orientation) if alpha is not None else None
    exif_bytes = None
    if len(exif):
        exif[EXIF_ORIENTATION] = 1
        exif_bytes = exif.tobytes()
    return ImageData(pixels, alpha, im.format or "PNG", icc, exif_bytes, frames)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) as ``read_image`` would return it, from the header (EXIF turns counted)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                orientation = int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFileError(f"{path}: refused as a decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError):
        return read_image(path).size  # the TIFFs only tifffile reads, or the one-line error
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def format_for_path(path: str | Path) -> str | None:
    """Image format implied by a file extension, or None."""
    return EXTENSION_FORMATS.get(Path(path).suffix.lower())


def to_eight_bit(array: np.ndarray) -> np.ndarray:
    """16-bit codes to 8-bit, rounding (65535 → 255)."""
    return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def eight_bit_pixels(image: ImageData) -> np.ndarray:
    """The pixels ``(H, W, 1 or 3)`` as uint8 (16-bit rounded); gray stays gray, alpha apart."""
    return to_eight_bit(image.pixels) if image.bit_depth == 16 else image.pixels


def eight_bit_rgb(image: ImageData, *, alpha_on_white: bool = False) -> np.ndarray:
    """8-bit RGB ``(H, W, 3)``: 16-bit rounded, gray repeated; alpha dropped or, with
    ``alpha_on_white``, composited on white (what a viewer shows for a transparent image)."""
    pixels = eight_bit_pixels(image)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    if alpha_on_white and image.alpha is not None:
        # the alpha keeps its own depth: a 16-bit alpha is not rounded to 8 bits before blending
        alpha = image.alpha.astype(np.float32)
        alpha = alpha / (65535.0 if image.alpha.dtype == np.uint16 else 255.0)
        alpha = alpha[:, :, None]
        pixels = np.round(pixels * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return pixels


Encoded = list[bytes | memoryview]  # pieces written one after another (no concatenated copy)


def _png_with_metadata(
    encoded: bytes | memoryview, icc: bytes | None, exif: bytes | None
) -> Encoded:
    """Insert iCCP/eXIf chunks right after IHDR (PNG signature 8 bytes + IHDR 25 bytes)."""
    view = memoryview(encoded)
    return [view[:33], metadata_chunks(icc, exif), view[33:]]


def _encode_png_rows(stacked: np.ndarray, image: ImageData) -> Encoded:
    """PNG through our own row encoder (for 16-bit gray+alpha, which Pillow and OpenCV lack)."""
    buf = io.BytesIO()
    h, w, channels = stacked.shape
    writer = PngWriter(buf, w, h, channels, image.bit_depth, image.icc_profile, image.exif)
    writer.write_rows(stacked)
    writer.finish()
    return [buf.getbuffer()]


def _tiff_options(image: ImageData) -> dict:
    """tifffile options for the channels and ICC profile of ``image`` (EXIF is not kept)."""
    icc = image.icc_profile
    return {
        "photometric": "minisblack" if image.pixels.shape[2] == 1 else "rgb",
        "extrasamples": ["unassalpha"] if image.alpha is not None else None,
        "extratags": [(34675, 7, len(icc), icc, True)] if icc else [],
    }


def _encode_sixteen(image: ImageData, fmt: str) -> Encoded:
    stacked = image.pixels if image.alpha is None else np.dstack([image.pixels, image.alpha])
    if fmt == "TIFF":
        buf = io.BytesIO()
        tifffile.imwrite(
            buf,
            np.squeeze(stacked, axis=2) if stacked.shape[2] == 1 else stacked,
            compression="zlib",
            **_tiff_options(image),
        )
        return [buf.getbuffer()]
    if stacked.shape[2] == 2:  # OpenCV cannot write gray+alpha
        return _encode_png_rows(stacked, image)
    return _encode_png_opencv(stacked, image)


def _swap_red_blue(array: np.ndarray) -> None:
    """RGB(A) ↔ BGR(A) in place, a band of rows at a time so no full-size copy is made."""
    for top in range(0, array.shape[0], 256):
        band = array[top : top + 256]
        red = band[..., 0].copy()
        band[..., 0] = band[..., 2]
        band[..., 2] = red


def _encode_png_opencv(stacked: np.ndarray, image: ImageData) -> Encoded:
    """PNG of 1, 3 or 4 channels via OpenCV, which encodes straight from the array.

    Pillow would first copy a large RGB result into its own 4-bytes-per-pixel buffer; for an
    8192x8192 upscale that copy alone is 268 MB, so large outputs are written this way.
    """
    colour = stacked.shape[2] >= 3
    if colour and not stacked.flags.writeable:
        stacked = stacked.copy()
    if colour:
        _swap_red_blue(stacked)
    try:
        ok, encoded = cv2.imencode(".png", stacked, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    finally:
        if colour:
            _swap_red_blue(stacked)
    if not ok:
        raise ImageFileError("cannot encode PNG")
    return _png_with_metadata(encoded.data, image.icc_profile, image.exif)


def _encode_eight(image: ImageData, fmt: str) -> Encoded:
    pixels, alpha = image.pixels, image.alpha
    if fmt in ("JPEG", "BMP") and alpha is not None:
        alpha = None  # neither format stores alpha (cli warns before writing)
    stacked = pixels if alpha is None else np.dstack([pixels, alpha])
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[stacked.shape[2]]
    if mode == "LA" and fmt == "WEBP":
        stacked, mode = np.dstack([pixels] * 3 + [alpha]), "RGBA"
    im = Image.fromarray(stacked.squeeze(axis=2) if mode == "L" else stacked, mode=mode)
    options: dict = {}
    if image.icc_profile and fmt != "BMP":
        options["icc_profile"] = image.icc_profile
    if image.exif and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        options["exif"] = image.exif
    if fmt == "JPEG":
        options.update(quality=95, subsampling=0)
    elif fmt == "WEBP":
        options.update(quality=95)
    elif fmt == "TIFF":
        options.update(compression="tiff_adobe_deflate")
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return [buf.getbuffer()]


def write_image(path: str | Path, image: ImageData, fmt: str | None = None) -> Path:
    """Encode ``image`` as ``fmt`` (default: its own format) and write it atomically to ``path``."""
    path = Path(path)
    fmt = (fmt or image.format).upper()
    if fmt not in FORMAT_EXTENSIONS:
        raise ImageFileError(f"{path}: cannot write format {fmt}")
    if image.bit_depth == 16 and fmt not in SIXTEEN_BIT_FORMATS:
        alpha = to_eight_bit(image.alpha) if image.alpha is not None else None
        image = replace(image, pixels=to_eight_bit(image.pixels), alpha=alpha)
    if image.bit_depth == 16:
        data = _encode_sixteen(image, fmt)
    elif fmt == "PNG" and (image.pixels.shape[2] == 3 or image.alpha is None):
        stacked = image.pixels if image.alpha is None else np.dstack([image.pixels, image.alpha])
        data = _encode_png_opencv(stacked, image)
    else:
        data = _encode_eight(image, fmt)
    return write_atomic(path, data)


Band = tuple[np.ndarray, np.ndarray | None]  # rows of pixels (n, W, C) and of alpha (n, W)


def can_stream(fmt: str, like: ImageData) -> bool:
    """Whether ``write_image_bands`` writes ``fmt`` keeping all that ``write_image`` keeps.

    PNG and JPEG always (JPEG drops alpha and 16-bit depth, as ``write_image`` does); TIFF
    unless 8-bit with EXIF (tifffile writes no EXIF; Pillow does, in memory).
    """
    return fmt in ("PNG", "JPEG") or (fmt == "TIFF" and (like.bit_depth == 16 or not like.exif))


def write_image_bands(
    path: str | Path, like: ImageData, size: tuple[int, int], bands: Iterable[Band], fmt: str
) -> Path:
    """Write a PNG or TIFF of ``size`` (H, W) from ``bands`` of rows, top to bottom, atomically.

    Channels, depth and metadata are those of ``like``; the pixels decode exactly as
    ``write_image`` of the whole image would. Only one band (and one strip) is held at a time,
    so memory does not grow with the image.
    """
    path = Path(path)
    if not can_stream(fmt, like):
        raise ImageFileError(f"{path}: cannot write {fmt} band by band")
    height, width = size
    channels = like.pixels.shape[2] + (like.alpha is not None)
    if fmt == "JPEG":
        return _write_jpeg_bands(path, like, size, bands)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        if fmt == "PNG":
            writer = PngWriter(
                handle, width, height, channels, like.bit_depth, like.icc_profile, like.exif
            )
            for pixels, alpha in bands:
                writer.write_rows(pixels, alpha)
            writer.finish()
        else:
            dtype = like.pixels.dtype
            rows_per_strip = max(1, _TIFF_STRIP_BYTES // (width * channels * dtype.itemsize))
            strips = (
                zlib.compress(rows.tobytes(), 6) for rows in _row_groups(bands, rows_per_strip)
            )
            tifffile.imwrite(
                handle,
                strips,
                shape=(height, width) if channels == 1 else (height, width, channels),
                dtype=dtype,
                compression="zlib",
                rowsperstrip=rows_per_strip,
                **_tiff_options(like),
            )
    return path


_TIFF_STRIP_BYTES = 1 << 18


def _write_jpeg_bands(path: Path, like: ImageData, size: tuple[int, int], bands) -> Path:
    """JPEG (8-bit, no alpha: the format has neither) from bands, ``sr.jpeg_stream``."""
    height, width = size
    channels = like.pixels.shape[2]
    # a restart interval (one band) holds at most 65535 blocks of 8x8
    most = 8 * max(1, 0xFFFF // -(-width // 8))
    rows = max(8, min(most, _TIFF_STRIP_BYTES // (width * channels)) // 8 * 8)
    eight_bit = (
        (to_eight_bit(pixels) if pixels.dtype == np.uint16 else pixels, None)
        for pixels, _alpha in bands
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        writer = JpegBandWriter(handle, width, height, rows, like.icc_profile, like.exif)
        for group in _row_groups(eight_bit, rows):
            writer.write_band(group)
        writer.finish()
    return path


def _row_groups(bands: Iterable[Band], n: int) -> Iterator[np.ndarray]:
    """Rows ``(n, W, C + alpha)`` regrouped from ``bands`` of any height; the last may be short."""
    carry: np.ndarray | None = None
    for pixels, alpha in bands:
        top = 0
        while top < len(pixels):
            need = n - (0 if carry is None else len(carry))
            part = pixels[top : top + need]
            if alpha is not None:
                part = np.dstack([part, alpha[top : top + need]])
            top += len(part)
            carry = part if carry is None else np.concatenate([carry, part])
            if len(carry) == n:
                yield np.ascontiguousarray(carry)
                carry = None
    if carry is not None:
        yield np.ascontiguousarray(carry)
