"""The image store: files named by content hash, written atomically; cached thumbnails."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from curator.catalog import ImageRecord, get_image
from curator.workspace import Workspace
from sr.image_files import read_image, to_eight_bit

TEMP_PREFIX = ".incoming-"


def store_relpath(content_hash: str, extension: str) -> str:
    """Path inside the store for a content hash: ``ab/abcdef….ext`` (two-level fan-out)."""
    return f"{content_hash[:2]}/{content_hash}{extension}"


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` via a temp file in the same folder, fsync and ``os.replace``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def image_path(ws: Workspace, record: ImageRecord) -> Path:
    """Absolute path of an image's file in the store."""
    return ws.store_dir / record.store_path


def load_rgb(path: Path) -> np.ndarray:
    """An image as 8-bit RGB ``(H, W, 3)`` (gray expanded, alpha composited on white)."""
    data = read_image(path)
    pixels = to_eight_bit(data.pixels) if data.bit_depth == 16 else data.pixels
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    if data.alpha is not None:
        alpha = data.alpha.astype(np.float32)
        alpha = alpha / (65535.0 if data.alpha.dtype == np.uint16 else 255.0)
        alpha = alpha[:, :, None]
        pixels = np.round(pixels * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(pixels)


def thumbnail(ws: Workspace, image_id: int, *, size: int = 128) -> Path:
    """A JPEG thumbnail (longest side ``size``), made once and cached under ``thumbs/``."""
    record = get_image(ws, image_id)
    target = ws.thumbs_dir / str(size) / f"{record.content_hash}.jpg"
    if target.is_file():
        return target
    im = Image.fromarray(load_rgb(image_path(ws, record)))
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".jpg", dir=target.parent)
    os.close(fd)
    try:
        im.save(tmp, format="JPEG", quality=88)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def sweep_store(ws: Workspace) -> list[Path]:
    """Delete leftovers of interrupted writes: temp files and files no catalog row points to.

    Call only under ``ws.writer_lock()`` (a concurrent writer's new file would look orphaned).
    """
    conn = ws.connect()
    try:
        known = {row[0] for row in conn.execute("SELECT store_path FROM images")}
    finally:
        conn.close()
    removed = []
    for path in sorted(ws.store_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(ws.store_dir).as_posix()
        if path.name.startswith(TEMP_PREFIX) or rel not in known:
            path.unlink()
            removed.append(path)
    return removed
