"""Every image's quality measurements (``SCORES``) in the catalog.

Ingest writes them with the image's row. Catalogs made before scores existed get them from
``fill_missing_scores`` (``curator scores WS``), which reads each stored file once; the flags
already recorded are left as they are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from curator.workspace import Workspace, plain_cursor, select_by_ids

if TYPE_CHECKING:
    from curator.progress import Progress

# What every image is measured by at ingest (``curator.quality.image_scores``): name -> meaning.
# Filters take ranges of them, not only the flags their thresholds make.
SCORES = {
    "sharpness": "Laplacian variance (higher is sharper; below blur_threshold: blurry)",
    "fine_detail": "finest-octave energy ratio (below upsampled_threshold: upsampled)",
    "blocking": "8x8 JPEG block border ratio (above blocking_threshold: jpeg_blocking)",
}
BATCH = 64  # images per transaction while filling: a kill loses at most one batch of work


def write_scores(conn: sqlite3.Connection, image_id: int, scores: dict[str, float]) -> None:
    """Store one image's scores (inside the caller's transaction)."""
    conn.executemany(
        "INSERT OR REPLACE INTO scores (image_id, name, value) VALUES (?, ?, ?)",
        [(image_id, name, float(value)) for name, value in scores.items()],
    )


def scores_of(ws: Workspace, ids: list[int]) -> dict[int, dict[str, float]]:
    """``{id: {score: value}}`` for these images (those without scores map to ``{}``)."""
    out: dict[int, dict[str, float]] = {i: {} for i in ids}
    with ws.session() as conn:
        sql = "SELECT image_id, name, value FROM scores WHERE image_id IN ({ids})"
        for image_id, name, value in select_by_ids(plain_cursor(conn), sql, ids):
            out[image_id][name] = value
    return out


def count_without_scores(ws: Workspace) -> int:
    """How many images have no scores: two counts, no per-image lookup (every writer stores an
    image's scores all at once, so the rows missing divided by ``len(SCORES)`` is the count)."""
    with ws.session() as conn:
        images = conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        rows = conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    return max(0, -(-(images * len(SCORES) - rows) // len(SCORES)))


def images_without_scores(ws: Workspace) -> list[tuple[int, str]]:
    """(id, store path) of images that lack any of the ``SCORES``."""
    with ws.session() as conn:
        rows = conn.execute(
            "SELECT id, store_path FROM images WHERE"
            f" (SELECT COUNT(*) FROM scores WHERE image_id = images.id) < {len(SCORES)}"
            " ORDER BY id"
        ).fetchall()
    return [(int(r["id"]), str(r["store_path"])) for r in rows]


def fill_missing_scores(
    ws: Workspace, progress: Progress | None = None, warn: Callable[[str], None] = print
) -> int:
    """Measure the images that have no scores yet; returns how many were filled.

    A stored file that cannot be read is named in one line and skipped; the rest go on.
    """
    from curator.quality import image_scores  # OpenCV: only when measuring
    from sr.image_files import eight_bit_pixels, read_image

    todo = images_without_scores(ws)
    if not todo:
        return 0  # nothing to write: no lock (a read-only workspace, or a busy writer, is fine)
    done = 0
    with ws.writer_lock(wait_s=60):
        for start in range(0, len(todo), BATCH):
            measured = []
            for image_id, rel in todo[start : start + BATCH]:
                try:
                    # the pixels ingest measures: 8-bit, gray kept gray, alpha left out
                    pixels = eight_bit_pixels(read_image(ws.store_dir / rel))
                    measured.append((image_id, image_scores(pixels)))
                except (OSError, ValueError) as exc:  # ImageFileError is a ValueError
                    warn(f"{ws.store_dir / rel}: scores not measured ({exc})")
            with ws.transaction() as conn:
                for image_id, scores in measured:
                    write_scores(conn, image_id, scores)
            done += len(measured)
            if progress is not None:
                progress(min(start + BATCH, len(todo)), len(todo))
    return done


def score_summary(ws: Workspace) -> dict[str, dict[str, float]]:
    """Per score: how many images have it, and its min, 10th/50th/90th percentile and max."""
    out = {}
    with ws.session() as conn:
        cursor = plain_cursor(conn)  # a million rows
        for name in SCORES:
            rows = cursor.execute("SELECT value FROM scores WHERE name = ?", (name,)).fetchall()
            values = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
            if not len(values):
                continue
            p10, p50, p90 = np.percentile(values, [10, 50, 90])
            out[name] = {
                "images": int(len(values)),
                "min": float(values.min()),
                "p10": float(p10),
                "median": float(p50),
                "p90": float(p90),
                "max": float(values.max()),
            }
    return out
