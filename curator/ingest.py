"""Validated ingest: files are checked, copied into the store by content hash, and flagged.

Each input is read once: its bytes are hashed, staged in the store, checked and decoded from the
staged copy, and (unless normalised) renamed into place, so the row always describes the stored
bytes. A killed ingest leaves at worst a store file without a catalog row (the file is placed
before the row and its event commit); re-running adopts it and inserts the row. The sweep at the
start of every ingest deletes only staged temp files; files no row points to are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from curator.catalog import PROVENANCE_COLUMNS, Provenance
from curator.config import IngestConfig
from curator.events import log_event
from curator.quality import Flag, dhash, hamming_to_many, image_flags, image_scores, jpeg_flags
from curator.scores import write_scores
from curator.store import store_relpath, sweep_store
from curator.workspace import Workspace, now_iso
from sr.atomic import publish, temp_file
from sr.cli_boundary import display_path, is_environment_error, os_error_line
from sr.image_files import (
    EXIF_ORIENTATION,
    ImageData,
    ImageFileError,
    eight_bit_pixels,
    read_image,
    write_image,
)
from sr.image_formats import FORMAT_EXTENSIONS, INGEST_SUFFIXES, has_suffix

Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    """What an ingest did: new ids, duplicate files, refused files, and notes on kept files."""

    added: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files in folders that are not images


class RefusedImage(Exception):
    """A file that is not ingested; the message is the reason (without the path)."""


def collect_candidates(
    paths: Iterable[str | Path], *, recursive: bool
) -> tuple[list[Path], list[Path]]:
    """(files to ingest, files skipped): files named directly, plus the image-like files inside
    folders (sorted, hidden ones left out); the other visible files of a folder are skipped, and
    said so, so a stray ``.txt`` never disappears without a word."""
    files, skipped = [], []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            files.append(path)
            continue
        found = path.rglob("*") if recursive else path.iterdir()
        for child in sorted(found):
            hidden = any(p.startswith(".") for p in child.relative_to(path).parts)
            if not child.is_file() or hidden:
                continue
            (files if has_suffix(child, INGEST_SUFFIXES) else skipped).append(child)
    return files, skipped


@contextlib.contextmanager
def _pillow_pixel_limit(limit: int) -> Iterator[None]:
    """Let Pillow decode up to our own configured limit (we refuse bombs ourselves, earlier)."""
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(limit, old or 0)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


@dataclass(frozen=True)
class Probe:
    """What the header says: format, frames, EXIF orientation, mode, JPEG luminance table."""

    format: str
    frames: int
    orientation: int
    mode: str
    jpeg_luma_table: tuple[int, ...] | None


def _probe(path: Path, config: IngestConfig) -> Probe:
    """Read the header (``Probe``); refuses bombs before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                fmt = im.format or "?"
                frames = getattr(im, "n_frames", 1)
                orientation = int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
                mode = im.mode
                tables = getattr(im, "quantization", None) or {}
                luma = tuple(tables[0]) if 0 in tables else None
    except Image.DecompressionBombError as exc:
        raise RefusedImage(f"refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise RefusedImage("not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise RefusedImage(f"truncated or corrupt image ({exc})") from None
    if width * height > config.max_pixels:
        raise RefusedImage(
            f"refused as a decompression bomb: {width}x{height} = {width * height} pixels "
            f"> limit {config.max_pixels} (ingest.max_pixels)"
        )
    if fmt not in FORMAT_EXTENSIONS:
        raise RefusedImage(f"unsupported format {fmt} (accepted: {', '.join(FORMAT_EXTENSIONS)})")
    return Probe(fmt, frames, orientation, mode, luma)


def _near_duplicate(conn, phash: int, bits: int) -> Flag | None:
    rows = conn.execute("SELECT id, phash FROM images WHERE phash IS NOT NULL").fetchall()
    if not rows:
        return None
    hashes = np.array([int(r["phash"], 16) for r in rows], dtype=np.uint64)
    distances = hamming_to_many(phash, hashes)
    best = int(np.argmin(distances))
    if distances[best] > bits:
        return None
    other = rows[best]["id"]
    return Flag(
        "near_duplicate", float(distances[best]), f"dHash distance {distances[best]} to #{other}"
    )


def _image_row(
    *,
    content_hash: str,
    store_path: str,
    original_name: str,
    decoded: ImageData,
    mode: str,
    provenance: Provenance,
    phash: int,
) -> dict[str, object]:
    """A new image's ``images`` row, column name → value (the INSERT is built from its keys)."""
    height, width = decoded.size
    return {
        "content_hash": content_hash,
        "store_path": store_path,
        "original_name": original_name,
        "width": width,
        "height": height,
        "mode": mode,
        "bit_depth": decoded.bit_depth,
        "has_alpha": int(decoded.alpha is not None),
        "has_icc": int(decoded.icc_profile is not None),
        "format": decoded.format,
        **dict(zip(PROVENANCE_COLUMNS, provenance.column_values(), strict=True)),
        "phash": f"{phash:016x}",
        "created_at": now_iso(),
    }


def add_image(
    ws: Workspace,
    *,
    content_hash: str,
    store_file: Callable[[Path], None],
    extension: str,
    decoded: ImageData,
    original_name: str,
    mode: str,
    provenance: Provenance,
    extra_flags: Iterable[Flag] = (),
) -> tuple[int, bool]:
    """Write the file (``store_file(target)``) then its row and flags; returns (id, is_new)."""
    with ws.session() as conn:
        row = conn.execute(
            "SELECT id FROM images WHERE content_hash = ?", (content_hash,)
        ).fetchone()
    if row is not None:
        return int(row["id"]), False
    rel = store_relpath(content_hash, extension)
    store_file(ws.store_dir / rel)
    pixels = eight_bit_pixels(decoded)  # gray stays gray: a huge gray scan is not tripled
    scores = image_scores(pixels)
    flags = list(image_flags(pixels, ws.config.ingest, scores)) + list(extra_flags)
    phash = dhash(pixels)
    with ws.transaction() as conn:
        near = _near_duplicate(conn, phash, ws.config.ingest.near_duplicate_bits)
        if near is not None:
            flags.append(near)
        columns = _image_row(
            content_hash=content_hash,
            store_path=rel,
            original_name=original_name,
            decoded=decoded,
            mode=mode,
            provenance=provenance,
            phash=phash,
        )
        cursor = conn.execute(
            f"INSERT INTO images ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})"
            " ON CONFLICT (content_hash) DO NOTHING",
            tuple(columns.values()),
        )
        if cursor.rowcount == 0:  # another writer inserted the same content meanwhile
            found = conn.execute(
                "SELECT id FROM images WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            return int(found["id"]), False
        image_id = int(cursor.lastrowid)
        conn.executemany(
            "INSERT OR REPLACE INTO flags (image_id, flag, value, detail) VALUES (?, ?, ?, ?)",
            [(image_id, f.name, f.value, f.detail) for f in flags],
        )
        write_scores(conn, image_id, scores)
        # The event commits with the row: a kill at any moment leaves no image without one.
        if provenance.source == "generated":
            mode = (provenance.generator_settings or {}).get("mode")
            payload = {"round": provenance.round, "mode": mode, "added": [image_id]}
            log_event(conn, "generate", payload)
        else:
            log_event(conn, "ingest", {"added": [image_id]})
    return image_id, True


@contextlib.contextmanager
def _staged(ws: Workspace, raw: bytes) -> Iterator[Path]:
    """``raw`` in a temp file of the store: checked, decoded and (if kept as is) renamed into
    place, so the hash, the checks and the stored bytes all come from one read of the input."""
    # Not sr.atomic.atomic_path: the target (named by the format the probe finds) and whether
    # these bytes are kept at all are known only later, so adopt_staged publishes the file.
    with temp_file(ws.store_dir) as staged:
        staged.write_bytes(raw)
        yield staged


def adopt_staged(staged: Path, target: Path) -> None:
    """Move a staged file to its place in the store (a rename: no second copy is written)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    publish(staged, target)  # fsynced before the rename, as every atomic write


def _read_input(path: Path) -> bytes:
    try:
        if not path.is_file():
            raise RefusedImage("no such file" if not path.exists() else "not a regular file")
        raw = path.read_bytes()
    except OSError as exc:
        raise RefusedImage(f"cannot read ({os_error_line(exc).rsplit(': ', 1)[-1]})") from None
    if not raw:
        raise RefusedImage("empty file (0 bytes)")
    return raw


def ingest_file(
    ws: Workspace, path: Path, report: IngestReport, *, name: str | None = None
) -> None:
    """Validate and add one file; the outcome goes into ``report``.

    ``name``: what the catalog records as the original name and reports show (default: the
    path; an upload names the file the person uploaded, not its temporary copy). Bad input is
    reported and skipped. A full disk or read-only store stops the batch with an ``OSError``
    naming the file (nothing half-written is kept; the files before it are).
    """
    shown = name or display_path(path)
    try:
        raw = _read_input(path)
        content_hash = hashlib.sha256(raw).hexdigest()
        with _staged(ws, raw) as staged:
            probe = _probe(staged, ws.config.ingest)
            frames = probe.frames
            try:
                decoded = read_image(staged)
            except ImageFileError as exc:
                raise RefusedImage(str(exc).split(": ", 1)[-1]) from None
            extra: list[Flag] = list(jpeg_flags(probe.jpeg_luma_table, ws.config.ingest))
            # Store the original bytes unless the pixels a reader would get differ from ours.
            normalise = probe.orientation != 1 or frames > 1 or probe.mode == "CMYK"
            if frames > 1:
                extra.append(Flag("animated", float(frames), f"{frames} frames: first frame kept"))
                note = f"animated image ({frames} frames): kept the first frame"
                report.notes.append((shown, note))
            if normalise:
                png = replace(decoded, format="PNG", exif=None)

                def store_file(target: Path) -> None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_image(target, png, "PNG")

                extension = ".png"
            else:

                def store_file(target: Path) -> None:
                    adopt_staged(staged, target)

                extension = FORMAT_EXTENSIONS[probe.format]
            image_id, is_new = add_image(
                ws,
                content_hash=content_hash,
                store_file=store_file,
                extension=extension,
                decoded=decoded,
                original_name=shown,
                mode=probe.mode,
                provenance=Provenance(),
                extra_flags=extra,
            )
    except RefusedImage as exc:
        report.errors.append((shown, str(exc)))
        return
    except OSError as exc:
        if is_environment_error(exc):  # disk full, read-only: no later file can be stored
            raise OSError(exc.errno, exc.strerror, shown) from None
        report.errors.append((shown, f"cannot store ({os_error_line(exc)})"))
        return
    if is_new:
        report.added.append(image_id)
    else:
        report.duplicates.append(shown)


def ingest_paths(
    ws: Workspace,
    paths: Iterable[str | Path],
    *,
    recursive: bool = False,
    progress: Progress | None = None,
    names: Mapping[Path, str] | None = None,
) -> IngestReport:
    """Ingest files and folders; bad files are reported and skipped, the rest goes on.

    ``names``: the name to record for some files (see ``ingest_file``).
    """
    files, skipped = collect_candidates(paths, recursive=recursive)
    report = IngestReport(skipped=[display_path(p) for p in skipped])
    names = names or {}
    with ws.writer_lock(), _pillow_pixel_limit(ws.config.ingest.max_pixels):
        sweep_store(ws)
        for done, path in enumerate(files, start=1):
            ingest_file(ws, path, report, name=names.get(path))
            if progress is not None:
                progress(done, len(files))
    return report
