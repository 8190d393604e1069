"""Thumbnail files for the pages' grids (made once per image and size, cached by the store)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def thumbnail_paths(ws, ids: list[int], size: int = 128) -> list[str]:
    """Thumbnail paths; missing ones are made in a few threads (decoding releases the GIL)."""
    from curator.store import thumbnail

    with ThreadPoolExecutor(max_workers=4) as pool:
        return [str(p) for p in pool.map(lambda i: thumbnail(ws, i, size=size), ids)]
