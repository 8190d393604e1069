"""Upscaling a batch of files: every output pixel counted up front for one progress bar, outputs
that exist skipped (a batch run again goes on where it stopped), one bad file reported while the
rest go on, and the file reads and encodes overlapped with the model's work."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch

from sr.cli_boundary import os_error_line
from sr.image_files import ImageData, image_size, read_image
from sr.inference import TileSettings
from sr.models.liif import LIIF
from sr.prefetch import ahead
from sr.safe_paths import move_aside
from sr.upscale import (
    DEFAULT_MAX_PIXELS,
    OutputPlan,
    OutputTooLarge,
    Target,
    output_size,
    upscale_file,
)

# One upscale that failed and what the user should read; the batch goes on with the next file.
# ValueError: bad data deep in a decoder or encoder (ImageFileError, UpscaleError and
# UnsafeTargetError are ValueErrors too); OSError: disk full, permissions, vanished files.
# torch.OutOfMemoryError: a GPU too small for the tile (the batch goes on; --tile helps)
FILE_ERRORS = (ValueError, OSError, MemoryError, torch.OutOfMemoryError)

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"


class Outcome(NamedTuple):
    """What happened to one input: ``state`` is WRITTEN, SKIPPED or FAILED; ``lines`` are the
    notes worth telling the user (WRITTEN) or the one ``FILE: reason`` line (FAILED)."""

    src: Path
    dst: Path | None
    state: str
    lines: list[str]


@dataclass(frozen=True)
class BatchOptions:
    """How every file of a batch is upscaled and written."""

    target: Target
    fmt: str | None = None  # None: each output in its input's format
    settings: TileSettings = TileSettings()
    max_pixels: int = DEFAULT_MAX_PIXELS
    overlap: bool = True  # read the next file and encode bands while the model computes


def error_line(src: Path, exc: BaseException) -> str:
    """``FILE: reason`` for a failed upscale of ``src``."""
    if isinstance(exc, MemoryError):
        return f"{src}: out of memory (try a smaller --tile or --chunk)"
    if isinstance(exc, OutputTooLarge):
        return f"{src}: {exc} (or raise the limit with --max-pixels)"
    message = os_error_line(exc) if isinstance(exc, OSError) else str(exc)
    return message if str(src) in message else f"{src}: {message}"


def planned_pixels(plans: list[OutputPlan], options: BatchOptions) -> list[int]:
    """Output pixels per plan, from the file headers; 0 for a plan that writes nothing, or whose
    header or size is refused (its error is reported when the batch reaches it)."""
    pixels = []
    for plan in plans:
        if not plan.writes:
            pixels.append(0)
            continue
        try:
            out_h, out_w = output_size(image_size(plan.src), options.target, options.max_pixels)
        except FILE_ERRORS:
            out_h = out_w = 0
        pixels.append(out_h * out_w)
    return pixels


def _decode(src: Path) -> ImageData | BaseException:
    """The decoded file, or the error reading it (reported in order, by the batch)."""
    try:
        return read_image(src)
    except FILE_ERRORS as exc:
        return exc


def upscale_batch(
    model: LIIF,
    plans: list[OutputPlan],
    options: BatchOptions,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[OutputPlan, tuple[int, int], tuple[int, int]], None] | None = None,
) -> Iterator[Outcome]:
    """Upscale every plan in order; one ``Outcome`` per plan, as each finishes.

    ``progress(n)``: ``n`` more output pixels done. ``on_start(plan, in_hw, out_hw)``: a file
    starts. With ``--overwrite`` plans the old file is kept as a dated backup, and put back when
    the new one could not be written. With ``options.overlap`` the next file is decoded and each
    band is computed in worker threads while this one encodes (``progress`` comes from them).
    """
    todo = [plan for plan in plans if plan.writes]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="upscale") as pool:
        decoded = (_decode(plan.src) for plan in todo)
        images = ahead(decoded, pool) if options.overlap else decoded
        for plan in plans:
            if plan.dst is None:
                yield Outcome(plan.src, None, FAILED, [f"{plan.src}: {plan.problem}"])
            elif plan.skip:
                yield Outcome(plan.src, plan.dst, SKIPPED, [])
            else:
                image = next(images)
                yield _upscale_one(model, plan, image, options, progress, on_start, pool)


def _upscale_one(
    model: LIIF,
    plan: OutputPlan,
    image: ImageData | BaseException,
    options: BatchOptions,
    progress: Callable[[int], None] | None,
    on_start: Callable[[OutputPlan, tuple[int, int], tuple[int, int]], None] | None,
    pool: ThreadPoolExecutor,
) -> Outcome:
    src, dst = plan.src, plan.dst
    assert dst is not None
    if isinstance(image, BaseException):
        return Outcome(src, dst, FAILED, [error_line(src, image)])
    backup = move_aside(dst) if dst.exists() or dst.is_symlink() else None  # an --overwrite plan
    try:
        notes = upscale_file(
            model,
            src,
            dst,
            options.target,
            fmt=options.fmt,
            settings=options.settings,
            max_pixels=options.max_pixels,
            progress=progress,
            on_start=None if on_start is None else lambda i, o: on_start(plan, i, o),
            image=image,
            pool=pool if options.overlap else None,
        )
    except BaseException as exc:
        if backup is not None:  # nothing new was written: the old file goes back
            os.replace(backup, dst)
        if not isinstance(exc, FILE_ERRORS):  # Ctrl-C, a bug: stop, with the old file in place
            raise
        return Outcome(src, dst, FAILED, [error_line(src, exc)])
    if backup is not None:
        notes.append(f"{dst}: the old file was moved to {backup.name}")
    return Outcome(src, dst, WRITTEN, notes)
