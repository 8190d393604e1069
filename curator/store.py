"""The image store: files named by content hash, written atomically; cached thumbnails."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from curator.catalog import ImageRecord, get_image
from curator.workspace import Workspace
from sr.atomic import TEMP_PREFIX, atomic_path
from sr.image_files import eight_bit_rgb, read_image
from sr.user_cache import cache_dir


def store_relpath(content_hash: str, extension: str) -> str:
    """Path inside the store for a content hash: ``ab/abcdef….ext`` (two-level fan-out)."""
    return f"{content_hash[:2]}/{content_hash}{extension}"


def image_path(ws: Workspace, record: ImageRecord) -> Path:
    """Absolute path of an image's file in the store."""
    return ws.store_dir / record.store_path


def load_rgb(path: Path) -> np.ndarray:
    """An image as 8-bit RGB ``(H, W, 3)`` (gray expanded, alpha composited on white)."""
    return np.ascontiguousarray(eight_bit_rgb(read_image(path), alpha_on_white=True))


def _thumbs_root(ws: Workspace) -> Path:
    """``WS/thumbs``, or the user cache's ``thumbs/<key of the workspace's path>`` for a
    workspace that cannot be written."""
    if not ws.readonly:
        return ws.thumbs_dir
    key = hashlib.sha256(str(ws.root.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "thumbs" / key


def thumbnail(ws: Workspace, image_id: int, *, size: int = 128) -> Path:
    """A JPEG thumbnail (longest side ``size``), made once and cached under ``thumbs/``."""
    record = get_image(ws, image_id)
    target = _thumbs_root(ws) / str(size) / f"{record.content_hash}.jpg"
    if target.is_file():
        return target
    im = Image.fromarray(load_rgb(image_path(ws, record)))
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    with atomic_path(target, suffix=".jpg") as tmp:
        im.save(tmp, format="JPEG", quality=88)
    return target


def sweep_store(ws: Workspace) -> list[Path]:
    """Delete the temp files of interrupted store writes (``.incoming-*``); nothing else.

    A store file without a catalog row is kept: it may be the orphan of a killed ingest (a re-run
    adopts it), a file newer than a restored catalog backup, or a file the user put there.
    Call only under ``ws.writer_lock()`` (a concurrent writer's temp file would look abandoned).
    """
    removed = []
    for path in sorted(ws.store_dir.rglob(f"{TEMP_PREFIX}*")):
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed
