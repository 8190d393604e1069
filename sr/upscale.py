"""Upscaling image files: sizes, planning of outputs, and one file end to end."""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from sr.cli_boundary import os_error_line
from sr.image_files import (
    ImageData,
    ImageFileError,
    can_stream,
    format_for_path,
    read_image,
    write_image,
    write_image_bands,
)
from sr.image_formats import FORMAT_EXTENSIONS
from sr.inference import TileSettings, row_bands
from sr.models.liif import LIIF
from sr.prefetch import ahead
from sr.safe_paths import UnsafeTargetError, check_target

DEFAULT_MAX_PIXELS = 1 << 28  # 268 MP: about 0.8 GB for an 8-bit RGB result


class UpscaleError(ValueError):
    """A request that cannot be carried out (bad scale or size); the message says why."""


class OutputTooLarge(UpscaleError):
    """The output would exceed the pixel limit (the CLI adds how to raise the limit)."""


@dataclass(frozen=True)
class Target:
    """One of: a scale per axis (x, y); an exact output size (width, height; 0 keeps the
    aspect); or a box (width, height) the output fills as far as the aspect ratio allows."""

    scale: tuple[float, float] | None = None
    size: tuple[int, int] | None = None
    fit: tuple[int, int] | None = None


def parse_scale(text: str) -> tuple[float, float]:
    """``"3"`` → (3, 3); ``"2x1.5"`` → (2, 1.5) as (x, y)."""
    parts = re.split(r"[x,]", text.strip().lower())
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UpscaleError(f"invalid scale {text!r} (use e.g. 3, 1.7 or 2x1.5)") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise UpscaleError(f"invalid scale {text!r} (use e.g. 3, 1.7 or 2x1.5)")
    return values[0], values[1]


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` → (1920, 1080); ``"1920x0"`` keeps the aspect ratio."""
    match = re.fullmatch(r"\s*(\d+)\s*[x,]\s*(\d+)\s*", text.lower())
    if not match or match.group(1) == match.group(2) == "0":
        raise UpscaleError(f"invalid size {text!r} (use WIDTHxHEIGHT, e.g. 1920x1080 or 1920x0)")
    return int(match.group(1)), int(match.group(2))


def parse_box(text: str) -> tuple[int, int]:
    """``"2048x1536"`` → (2048, 1536) for ``--fit``; both sides must be positive."""
    try:
        box = parse_size(text)  # the one WIDTHxHEIGHT pattern; a box also needs both sides
    except UpscaleError:
        box = (0, 0)
    if min(box) < 1:
        raise UpscaleError(f"invalid box {text!r} (use WIDTHxHEIGHT with both above 0)")
    return box


def output_size(
    in_hw: tuple[int, int], target: Target, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[int, int]:
    """Output (height, width) for an input of ``in_hw``; refuses scales < 1 and absurd sizes."""
    h, w = in_hw
    if target.size is not None:
        out_w, out_h = target.size
        if out_w == 0:
            out_w = round(w * out_h / h)
        if out_h == 0:
            out_h = round(h * out_w / w)
    elif target.fit is not None:
        box_w, box_h = target.fit
        ratio = min(box_w / w, box_h / h)
        if ratio < 1:
            raise UpscaleError(
                f"the input {w}x{h} is already larger than the box {box_w}x{box_h} "
                "(this is an upscaler)"
            )
        # the side that meets the box is exact; the other is rounded (never past the box)
        out_w, out_h = min(box_w, round(w * ratio)), min(box_h, round(h * ratio))
    elif target.scale is not None:
        sx, sy = target.scale
        if sx < 1 or sy < 1:
            raise UpscaleError(f"scale {sx:g}x{sy:g} is below 1 (this is an upscaler)")
        out_w, out_h = round(w * sx), round(h * sy)
    else:
        raise UpscaleError("give a scale, an output size or a box to fit")
    if out_h < h or out_w < w:
        raise UpscaleError(f"output {out_w}x{out_h} is smaller than the input {w}x{h} (scale < 1)")
    if out_h * out_w > max_pixels:
        raise OutputTooLarge(
            f"output {out_w}x{out_h} ({out_h * out_w / 1e6:.1f} MP) exceeds the limit of "
            f"{max_pixels / 1e6:.1f} MP; choose a smaller scale or size"
        )
    return out_h, out_w


def _to_model_input(image: ImageData) -> torch.Tensor:
    """``(3, h, w)`` codes, a view of the pixels (no copy); gray is replicated to three channels.

    ``row_bands`` turns them into floats in [0, 1] a tile at a time.
    """
    with warnings.catch_warnings():
        # Decoded pixels are often read-only; this view is only ever read (cut into tiles).
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        pixels = torch.from_numpy(image.pixels).permute(2, 0, 1)
    return pixels.expand(3, -1, -1) if pixels.shape[0] == 1 else pixels


_ALPHA_ROWS = 256  # output rows of alpha resized at a time (float32 work: ~3 copies of these)


def resize_alpha_rows(
    alpha: np.ndarray, out_hw: tuple[int, int], rows: tuple[int, int]
) -> np.ndarray:
    """Rows [top, bottom) of ``alpha`` ``(h, w)`` resized to ``out_hw``: ``(bottom - top, W)``.

    Alpha is a mask, not a photo: plain bicubic keeps edges where the user put them. It is
    computed in float32 and rounded once: Pillow's 8-bit resize rounds between its two passes
    and picks their order by size, so a band of rows would not match the same rows of a whole
    resize (by up to 10 levels), and it cannot resize 16-bit integers at all. Only the input rows
    each piece of ``_ALPHA_ROWS`` output rows needs are converted, so the work is a few float
    copies of those rows, never of the whole alpha.
    """
    top, bottom = rows
    out = np.empty((bottom - top, out_hw[1]), alpha.dtype)
    for start in range(top, bottom, _ALPHA_ROWS):
        stop = min(bottom, start + _ALPHA_ROWS)
        out[start - top : stop - top] = _resize_alpha_piece(alpha, out_hw, start, stop)
    return out


def _resize_alpha_piece(
    alpha: np.ndarray, out_hw: tuple[int, int], top: int, bottom: int
) -> np.ndarray:
    h, w = alpha.shape
    y0, y1 = top * h / out_hw[0], bottom * h / out_hw[0]  # the rows' span in input rows
    # Bicubic reads 2 rows either side (times the shrink factor when shrinking); one more keeps
    # the crop's own edge out of reach, so the piece equals the same rows of a whole resize.
    margin = math.ceil(2 * max(1.0, h / out_hw[0])) + 1
    c0, c1 = max(0, math.floor(y0) - margin), min(h, math.ceil(y1) + margin)
    image = Image.fromarray(alpha[c0:c1].astype(np.float32))
    box = (0, y0 - c0, w, y1 - c0)
    resized = np.array(image.resize((out_hw[1], bottom - top), Image.BICUBIC, box=box))
    np.rint(resized, out=resized)
    return np.clip(resized, 0, np.iinfo(alpha.dtype).max, out=resized)


class OutputBand(NamedTuple):
    """Finished output rows from ``top``: pixels ``(n, W, C)`` and alpha ``(n, W)`` or None."""

    top: int
    pixels: np.ndarray
    alpha: np.ndarray | None


def upscaled_bands(
    model: LIIF,
    image: ImageData,
    out_hw: tuple[int, int],
    settings: TileSettings = TileSettings(),
    progress: Callable[[int], None] | None = None,
) -> Iterator[OutputBand]:
    """The upscale of ``image`` (pixels and alpha) to ``out_hw``, one band of rows at a time.

    Bands come top to bottom in the image's depth and channels; each is computed when asked
    for, so a caller that writes one before taking the next holds one band, not the image.
    """
    channels = image.pixels.shape[2]
    max_value = image.max_value
    for band in row_bands(model, _to_model_input(image), out_hw, settings, progress):
        pixels = np.empty((band.bottom - band.top, out_hw[1], channels), image.pixels.dtype)

        def put(top: int, left: int, block: torch.Tensor, pixels=pixels, first=band.top) -> None:
            if channels == 1:
                block = block.mean(dim=0, keepdim=True)
            codes = block.clamp_(0, 1).mul_(max_value).round_().permute(1, 2, 0).numpy()
            pixels[top - first : top - first + block.shape[1], left : left + block.shape[2]] = codes

        band.draw(put)
        alpha = None
        if image.alpha is not None:
            alpha = resize_alpha_rows(image.alpha, out_hw, (band.top, band.bottom))
        yield OutputBand(band.top, pixels, alpha)


def upscale_image(
    model: LIIF,
    image: ImageData,
    out_hw: tuple[int, int],
    settings: TileSettings = TileSettings(),
    progress: Callable[[int], None] | None = None,
) -> ImageData:
    """Upscale pixels (and alpha) of ``image`` to ``out_hw``; keeps depth, channels, metadata.

    The whole result is held in memory; ``upscale_file`` streams PNG and TIFF instead.
    """
    out = np.empty((*out_hw, image.pixels.shape[2]), dtype=image.pixels.dtype)
    alpha = np.empty(out_hw, dtype=image.alpha.dtype) if image.alpha is not None else None
    for band in upscaled_bands(model, image, out_hw, settings, progress):
        out[band.top : band.top + len(band.pixels)] = band.pixels
        if alpha is not None:
            alpha[band.top : band.top + len(band.pixels)] = band.alpha
    return ImageData(out, alpha, image.format, image.icc_profile, image.exif, 1)


def collect_inputs(
    inputs: list[Path], recursive: bool
) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, path relative to its input root) per file named or found in a named folder, and
    one ``PATH: reason`` line per input that cannot be searched (the others still count).

    A named path that is not a folder (a file, a missing path, a link loop) is kept as a file:
    reading it says what is wrong with it, in the batch, like any other unreadable file.
    """
    found: list[tuple[Path, Path]] = []
    problems: list[str] = []
    for item in inputs:
        try:
            if not item.is_dir():
                found.append((item, Path(item.name)))
                continue
            pattern = "**/*" if recursive else "*"
            for path in sorted(item.glob(pattern)):
                if path.is_file() and format_for_path(path):
                    found.append((path, path.relative_to(item)))
        except OSError as exc:  # e.g. a folder that vanished or cannot be listed
            reason = os_error_line(exc)
            problems.append(reason if str(item) in reason else f"{item}: {reason}")
    return found, problems


def _real(path: Path) -> str:
    """``path`` with links resolved; never raises (a link loop resolves to itself)."""
    return os.path.realpath(path)


def output_is_file(inputs: list[tuple[Path, Path]], out: Path, fmt: str | None) -> bool:
    """Whether ``out`` names the output file (one input) rather than the output folder.

    Refuses (``UpscaleError``) an ``out`` that is neither: one input and a suffix that is no
    image format would otherwise become a folder named like a file; and an explicit ``fmt``
    that disagrees with ``out``'s extension would put one format's bytes under another's name.
    """
    if out.is_dir():
        return False
    implied = format_for_path(out)
    if len(inputs) != 1:
        if out.exists():
            raise UpscaleError(f"{out}: is a file; {len(inputs)} inputs need an output folder")
        return False
    if implied is None:
        if out.suffix:
            raise UpscaleError(
                f"{out}: unknown image extension {out.suffix!r} (use one of "
                f"{', '.join(sorted(set(FORMAT_EXTENSIONS.values())))}, or a folder)"
            )
        return False
    if fmt is not None and fmt != implied:
        raise UpscaleError(f"{out}: --format {fmt} disagrees with the extension {out.suffix!r}")
    return True


class OutputPlan(NamedTuple):
    """What a batch does with one input: write ``dst``; skip it (``skip``: ``dst`` exists and
    overwriting is off, so a batch run again goes on where it stopped); or fail (``dst`` is
    None and ``problem`` says why)."""

    src: Path
    dst: Path | None
    problem: str | None = None
    skip: bool = False

    @property
    def writes(self) -> bool:
        """Whether the batch writes this plan's output (neither skipped nor failed)."""
        return self.dst is not None and not self.skip


def plan_outputs(
    inputs: list[tuple[Path, Path]], out: Path, fmt: str | None, *, overwrite: bool = False
) -> list[OutputPlan]:
    """One ``OutputPlan`` per input; ``out`` is a file only for one file in.

    No destination is any input of the batch (links resolved) or another input's destination,
    and an existing file is a destination only with ``overwrite`` (the caller then keeps the old
    file as a dated backup); without it, an input whose output is in a folder is skipped, and one
    whose output file was named by the user fails. Raises ``UpscaleError`` for an ``out`` that
    is neither a file nor a folder name.
    """
    single_file = output_is_file(inputs, out, fmt)
    real_inputs: dict[str, list[Path]] = {}
    for src, _ in inputs:
        real_inputs.setdefault(_real(src), []).append(src)
    plans: list[OutputPlan] = []
    taken: set[str] = set()
    for src, rel in inputs:
        if single_file:
            dst = out
        else:
            suffix = FORMAT_EXTENSIONS[fmt] if fmt else rel.suffix
            dst = out / rel.with_suffix(suffix)
        real = _real(dst)
        try:
            # Only the inputs at the same real path can clash: checking those is the same
            # decision as checking all of them, without resolving every input per output.
            check_target(dst, inputs=real_inputs.get(real, ()))
        except UnsafeTargetError as exc:
            plans.append(OutputPlan(src, None, str(exc)))
            continue
        if real in taken:
            plans.append(OutputPlan(src, None, f"output {dst} is already written by another input"))
        elif (dst.exists() or dst.is_symlink()) and not overwrite:
            if single_file:  # named by the user: a stale result must not pass for a new one
                reason = f"output {dst} exists (--overwrite replaces it, keeping a dated backup)"
                plans.append(OutputPlan(src, None, reason))
                continue
            taken.add(real)
            plans.append(OutputPlan(src, dst, skip=True))
        else:
            taken.add(real)
            plans.append(OutputPlan(src, dst))
    return plans


def upscale_notes(src: Path, image: ImageData, fmt: str) -> list[str]:
    """What writing ``image`` (read from ``src``) as ``fmt`` cannot keep, one line each."""
    notes = []
    if image.frames > 1:
        notes.append(f"{src}: animated ({image.frames} frames); only the first frame is upscaled")
    if image.alpha is not None and fmt in ("JPEG", "BMP"):
        notes.append(f"{src}: {fmt} has no alpha channel; transparency is dropped")
    if image.bit_depth == 16 and fmt not in ("PNG", "TIFF"):
        notes.append(f"{src}: {fmt} is 8-bit only; 16-bit samples are rounded to 8 bits")
    return notes


def upscale_file(
    model: LIIF,
    src: Path,
    dst: Path,
    target: Target,
    fmt: str | None = None,
    settings: TileSettings = TileSettings(),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[tuple[int, int], tuple[int, int]], None] | None = None,
    image: ImageData | None = None,
    pool: Executor | None = None,
) -> list[str]:
    """Read, upscale and write one file; returns notes worth telling the user (may be empty).

    ``on_start(in_hw, out_hw)`` is called once the sizes are known, before the work starts.
    ``image``: ``src`` already decoded (a batch reads the next file while this one computes).
    ``pool``: compute each band in it while the band before is encoded (see ``write_upscaled``).
    The file is written atomically: on any failure ``dst`` is untouched and no temp is left.

    Memory: PNG, JPEG and TIFF are written band by band as the model finishes each row of tiles
    (``sr.png_stream``, ``sr.jpeg_stream``), so the peak is about the model, the decoded input,
    one tile's work and one band of output rows (tile x scale rows, full width), whatever the
    output size. WEBP (at most 16383 px a side) and BMP (and 8-bit TIFF with EXIF) are encoded
    from the whole result: add the output array and the encoder's own copy.
    """
    image = read_image(src) if image is None else image
    out_hw = output_size(image.size, target, max_pixels)
    fmt = (fmt or format_for_path(dst) or image.format).upper()
    if fmt not in FORMAT_EXTENSIONS:
        raise ImageFileError(f"{dst}: cannot write format {fmt}")
    notes = upscale_notes(src, image, fmt)
    if on_start is not None:
        on_start(image.size, out_hw)
    write_upscaled(model, image, dst, out_hw, fmt, settings, progress, pool)
    return notes


def write_upscaled(
    model: LIIF,
    image: ImageData,
    dst: Path,
    out_hw: tuple[int, int],
    fmt: str,
    settings: TileSettings = TileSettings(),
    progress: Callable[[int], None] | None = None,
    pool: Executor | None = None,
) -> None:
    """``upscale_file``'s work on an image already decoded: upscale to ``out_hw`` (H, W) and
    write ``dst`` as ``fmt``, band by band where the format allows (see ``upscale_file``).

    With a ``pool``, the model computes the next band in it while this thread encodes the last
    one (``progress`` is then called from the pool's thread).
    """
    if can_stream(fmt, image):
        bands = upscaled_bands(model, image, out_hw, settings, progress)
        if pool is not None:
            bands = ahead(bands, pool)
        with closing(bands):  # an encode error: the band in flight ends here, not in the next file
            write_image_bands(dst, image, out_hw, ((b.pixels, b.alpha) for b in bands), fmt)
    else:
        write_image(dst, upscale_image(model, image, out_hw, settings, progress), fmt)
