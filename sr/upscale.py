"""Upscaling image files: sizes, planning of outputs, and one file end to end."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sr.image_files import (
    FORMAT_EXTENSIONS,
    ImageData,
    ImageFileError,
    format_for_path,
    read_image,
    write_image,
)
from sr.inference import TileSettings, render
from sr.models.liif import LIIF

DEFAULT_MAX_PIXELS = 1 << 28  # 268 MP: about 0.8 GB for an 8-bit RGB result


class UpscaleError(ValueError):
    """A request that cannot be carried out (bad scale or size); the message says why."""


@dataclass(frozen=True)
class Target:
    """Either a scale per axis (x, y) or an exact output size (width, height; 0 keeps aspect)."""

    scale: tuple[float, float] | None = None
    size: tuple[int, int] | None = None


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
    elif target.scale is not None:
        sx, sy = target.scale
        if sx < 1 or sy < 1:
            raise UpscaleError(f"scale {sx:g}x{sy:g} is below 1 (this is an upscaler)")
        out_w, out_h = round(w * sx), round(h * sy)
    else:
        raise UpscaleError("give a scale or an output size")
    if out_h < h or out_w < w:
        raise UpscaleError(f"output {out_w}x{out_h} is smaller than the input {w}x{h} (scale < 1)")
    if out_h * out_w > max_pixels:
        raise UpscaleError(
            f"output {out_w}x{out_h} ({out_h * out_w / 1e6:.1f} MP) exceeds the limit of "
            f"{max_pixels / 1e6:.1f} MP (raise it with --max-pixels)"
        )
    return out_h, out_w


def _to_model_input(image: ImageData) -> torch.Tensor:
    """``(3, h, w)`` float in [0, 1]; gray is replicated to three channels."""
    pixels = torch.from_numpy(image.pixels.astype(np.float32)).permute(2, 0, 1)
    pixels /= image.max_value
    return pixels.expand(3, -1, -1) if pixels.shape[0] == 1 else pixels


def _resize_alpha(alpha: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Alpha is a mask, not a photo: plain bicubic keeps edges where the user put them."""
    mode = "I;16" if alpha.dtype == np.uint16 else "L"
    resized = Image.fromarray(alpha, mode=mode).resize((out_hw[1], out_hw[0]), Image.BICUBIC)
    return np.asarray(resized).astype(alpha.dtype)


def upscale_image(
    model: LIIF,
    image: ImageData,
    out_hw: tuple[int, int],
    settings: TileSettings = TileSettings(),
    progress: Callable[[int], None] | None = None,
) -> ImageData:
    """Upscale pixels (and alpha) of ``image`` to ``out_hw``; keeps depth, channels, metadata."""
    channels = image.pixels.shape[2]
    out = np.empty((*out_hw, channels), dtype=image.pixels.dtype)
    max_value = image.max_value

    def write(top: int, left: int, block: torch.Tensor) -> None:
        if channels == 1:
            block = block.mean(dim=0, keepdim=True)
        codes = block.clamp_(0, 1).mul_(max_value).round_().permute(1, 2, 0).numpy()
        out[top : top + block.shape[1], left : left + block.shape[2]] = codes

    render(model, _to_model_input(image), out_hw, write, settings, progress)
    alpha = _resize_alpha(image.alpha, out_hw) if image.alpha is not None else None
    return ImageData(out, alpha, image.format, image.icc_profile, image.exif, 1)


def collect_inputs(inputs: list[Path], recursive: bool) -> list[tuple[Path, Path]]:
    """(file, path relative to its input root) for each file named or found in a named folder."""
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        if item.is_dir():
            pattern = "**/*" if recursive else "*"
            for path in sorted(item.glob(pattern)):
                if path.is_file() and format_for_path(path):
                    found.append((path, path.relative_to(item)))
        else:
            found.append((item, Path(item.name)))
    return found


def plan_outputs(
    inputs: list[tuple[Path, Path]], out: Path, fmt: str | None
) -> list[tuple[Path, Path | None, str | None]]:
    """(source, destination or None, reason) per input; ``out`` is a file only for one file in."""
    single_file = len(inputs) == 1 and format_for_path(out) is not None and not out.is_dir()
    plans: list[tuple[Path, Path | None, str | None]] = []
    taken: set[Path] = set()
    for src, rel in inputs:
        if single_file:
            dst = out
        else:
            suffix = FORMAT_EXTENSIONS[fmt] if fmt else rel.suffix
            dst = out / rel.with_suffix(suffix)
        if dst.resolve() == src.resolve():
            plans.append((src, None, "output would overwrite the input"))
        elif dst.resolve() in taken:
            plans.append((src, None, f"output {dst} is already written by another input"))
        else:
            taken.add(dst.resolve())
            plans.append((src, dst, None))
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
) -> list[str]:
    """Read, upscale and write one file; returns notes worth telling the user (may be empty).

    ``on_start(in_hw, out_hw)`` is called once the sizes are known, before the work starts.
    """
    image = read_image(src)
    out_hw = output_size(image.size, target, max_pixels)
    fmt = (fmt or format_for_path(dst) or image.format).upper()
    if fmt not in FORMAT_EXTENSIONS:
        raise ImageFileError(f"{dst}: cannot write format {fmt}")
    notes = upscale_notes(src, image, fmt)
    if on_start is not None:
        on_start(image.size, out_hw)
    result = upscale_image(model, image, out_hw, settings, progress)
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_image(dst, result, fmt)
    return notes
