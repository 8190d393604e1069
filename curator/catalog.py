"""Read access to the catalog: image records, counts, filters; where each image came from."""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from curator.errors import CuratorError
from curator.events import PROVENANCE_ACTION, log_event
from curator.scores import SCORES
from curator.workspace import Workspace, read_only_uri, select_by_ids

SOURCES = ("original", "generated", "augmented")
# An image's status lives in its own narrow table (schema v6); records read both.
STATUS_JOIN = " JOIN image_status ON image_status.image_id = images.id"
IMAGES_WITH_STATUS = "images" + STATUS_JOIN
RECORD_COLUMNS = "images.*, status, status_reason, status_time"
RECORD_SELECT = f"SELECT {RECORD_COLUMNS} FROM {IMAGES_WITH_STATUS}"
STATUSES = ("pending", "accepted", "rejected")
PROVENANCE_COLUMNS = (
    "source", "round", "parent_id", "prompt_id", "seed", "generator_model", "generator_settings",
)  # fmt: skip


@dataclass(frozen=True)
class Provenance:
    """Where an image came from (all but ``source`` stay empty for originals)."""

    source: str = "original"
    round: int = 0
    parent_id: int | None = None
    prompt_id: int | None = None
    seed: int | None = None
    generator_model: str | None = None
    generator_settings: dict | None = None

    def column_values(self) -> tuple:
        """The values of ``PROVENANCE_COLUMNS``, in that order (settings as sorted JSON)."""
        settings = self.generator_settings
        return (
            self.source,
            self.round,
            self.parent_id,
            self.prompt_id,
            self.seed,
            self.generator_model,
            json.dumps(settings, sort_keys=True) if settings is not None else None,
        )


def set_provenance(ws: Workspace, image_ids: Iterable[int], provenance: Provenance) -> None:
    """Record ``provenance`` for images already in the catalog, in one transaction.

    New images get theirs from ``curator.ingest.add_image``; this is for images whose origin is
    known only after they were ingested (pictures generated elsewhere, then ingested as files).
    """
    if provenance.source not in SOURCES:
        raise CuratorError(f"unknown source {provenance.source!r} (one of {', '.join(SOURCES)})")
    ids = list(dict.fromkeys(image_ids))
    assignments = ", ".join(f"{c} = ?" for c in PROVENANCE_COLUMNS)
    with ws.transaction() as conn:
        for image_id in ids:
            cursor = conn.execute(
                f"UPDATE images SET {assignments} WHERE id = ?",
                (*provenance.column_values(), image_id),
            )
            if cursor.rowcount == 0:
                raise CuratorError(f"no image with id {image_id}")
        # the event also tells the map's readers (curator.map_columns) that provenance moved
        log_event(conn, PROVENANCE_ACTION, {"ids": ids, "source": provenance.source})


@dataclass(frozen=True)
class ImageRecord:
    """One row of ``images`` plus its quality flags ``{flag: value}``."""

    id: int
    content_hash: str
    store_path: str
    original_name: str
    width: int
    height: int
    mode: str
    bit_depth: int
    has_alpha: bool
    has_icc: bool
    format: str
    source: str
    round: int
    parent_id: int | None
    prompt_id: int | None
    seed: int | None
    generator_model: str | None
    generator_settings: str | None
    status: str
    status_reason: str
    status_time: str | None
    phash: str | None
    created_at: str
    flags: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    flag_details: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _flags_for(
    conn: sqlite3.Connection, ids: list[int]
) -> dict[int, tuple[dict[str, float], dict[str, str]]]:
    out: dict[int, tuple[dict[str, float], dict[str, str]]] = {i: ({}, {}) for i in ids}
    if not ids:
        return out
    select = "SELECT image_id, flag, value, detail FROM flags"
    if len(ids) > 500:  # a long list: one scan of the (sparse) flags beats many lookups
        rows = list(conn.execute(f"{select} ORDER BY image_id, flag"))
    else:
        rows = select_by_ids(
            conn.cursor(), select + " WHERE image_id IN ({ids}) ORDER BY flag", ids
        )
    for row in rows:
        if row["image_id"] in out:
            out[row["image_id"]][0][row["flag"]] = row["value"]
            out[row["image_id"]][1][row["flag"]] = row["detail"]
    return out


def _records(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[ImageRecord]:
    flags = _flags_for(conn, [r["id"] for r in rows])
    records = []
    for row in rows:
        values = dict(row)
        values["has_alpha"] = bool(values["has_alpha"])
        values["has_icc"] = bool(values["has_icc"])
        records.append(
            ImageRecord(**values, flags=flags[row["id"]][0], flag_details=flags[row["id"]][1])
        )
    return records


# How ``list_images`` may order images: name -> SQL (every order ends by id, so pages are stable)
# (ordered by the status table's copy of the id: with a status filter SQLite then walks the
# status index in order and stops after a page, instead of sorting every match)
SORTS = {
    "id": "image_status.image_id",
    "newest": "image_status.image_id DESC",
    "name": "original_name, images.id",
    "pixels": "width * height DESC, images.id",
    "status": "status, images.id",
}
# ... and by a quality score, lowest first (the blurriest, the most upsampled, the least blocky),
# ties by id; images not measured yet come last (``_by_score``)
SORT_NAMES = (*SORTS, *SCORES)


@dataclass(frozen=True)
class ImageFilter:
    """Which images ``list_images`` and ``count_images`` return; every given field must match.

    ``flag``: one flag name or several (an image with **any** of them matches); ``no_flags``:
    only images without any quality flag. ``min_score``/``max_score`` bound quality scores by
    name (``curator.scores.SCORES``); an image without that score (a catalog not yet filled by
    ``curator scores``) does not match. Unknown names are a ``CuratorError`` when it is built.
    """

    status: str | None = None
    source: str | None = None
    round: int | None = None
    flag: str | Sequence[str] | None = None
    no_flags: bool = False
    prompt_id: int | None = None
    min_score: Mapping[str, float] | None = None
    max_score: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise CuratorError(f"unknown status {self.status!r} (one of {', '.join(STATUSES)})")
        if self.source is not None and self.source not in SOURCES:
            raise CuratorError(f"unknown source {self.source!r} (one of {', '.join(SOURCES)})")
        if self.flags and self.no_flags:
            raise CuratorError("give flags to match or ask for images without flags, not both")
        for name in [*(self.min_score or {}), *(self.max_score or {})]:
            if name not in SCORES:
                raise CuratorError(f"unknown score {name!r} (one of {', '.join(SCORES)})")

    @property
    def flags(self) -> list[str]:
        """The flag names to match, as a list."""
        return [self.flag] if isinstance(self.flag, str) else list(self.flag or [])

    def tables(self) -> str:
        """What ``where`` reads: ``images``, joined with the statuses when one is asked for, or
        the status table alone when a status is all that is asked (counted in its index)."""
        if self.status is None:
            return "images"
        return "image_status" if replace(self, status=None) == ImageFilter() else IMAGES_WITH_STATUS

    def where(self) -> tuple[str, list]:
        """The SQL WHERE clause over ``tables()`` (empty when nothing is set) and its arguments."""
        where, args = [], []
        for column in ("status", "source", "round", "prompt_id"):
            value = getattr(self, column)
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if self.flags:
            marks = ", ".join("?" for _ in self.flags)
            where.append(f"id IN (SELECT image_id FROM flags WHERE flag IN ({marks}))")
            args.extend(self.flags)
        if self.no_flags:
            where.append("id NOT IN (SELECT image_id FROM flags)")
        for bounds, op in ((self.min_score, ">="), (self.max_score, "<=")):
            for name, value in (bounds or {}).items():
                where.append(f"id IN (SELECT image_id FROM scores WHERE name = ? AND value {op} ?)")
                args.extend([name, float(value)])
        return (" WHERE " + " AND ".join(where) if where else ""), args


def list_images(
    ws: Workspace, *, sort: str = "id", limit: int | None = None, offset: int = 0, **filters: Any
) -> list[ImageRecord]:
    """Images matching ``ImageFilter(**filters)``, ordered by ``sort`` (``SORT_NAMES``), one page.

    ``limit``/``offset`` page through the result.
    """
    if sort not in SORT_NAMES:
        raise CuratorError(f"unknown sort {sort!r} (one of {', '.join(SORT_NAMES)})")
    where, args = ImageFilter(**filters).where()
    with ws.session() as conn:
        conn.execute("BEGIN")  # one snapshot: a page by a score may take three SELECTs
        if sort in SCORES:
            rows = _by_score(conn, sort, where, args, limit, offset)
        else:
            sql = f"{RECORD_SELECT}{where} ORDER BY {SORTS[sort]}"
            rows = conn.execute(sql + _page_sql(limit, offset), args).fetchall()
        return _records(conn, rows)


def _page_sql(limit: int | None, offset: int) -> str:
    if limit is None and not offset:
        return ""
    return f" LIMIT {-1 if limit is None else int(limit)} OFFSET {int(offset)}"


def _by_score(
    conn: sqlite3.Connection, name: str, where: str, args: list, limit: int | None, offset: int
) -> list[sqlite3.Row]:
    """One page by the score ``name``, read along the score index (schema v5) instead of
    sorting every row by a subquery: the scored images by value, then the unscored by id."""
    also = where.replace(" WHERE ", " AND ", 1)
    join = f"FROM scores s JOIN images ON images.id = s.image_id{STATUS_JOIN} WHERE s.name = ?"
    join += also
    scored = conn.execute(
        f"SELECT {RECORD_COLUMNS} {join} ORDER BY s.value, s.image_id" + _page_sql(limit, offset),
        [name, *args],
    ).fetchall()
    if limit is not None and len(scored) == limit:
        return scored
    skip = 0  # the page started among the scored images and runs past their end
    if offset and not scored:  # the page starts among the unscored: skip past the scored ones
        (count,) = conn.execute(f"SELECT COUNT(*) {join}", [name, *args]).fetchone()
        skip = offset - count
    rest = None if limit is None else limit - len(scored)
    unscored = f"{where or ' WHERE 1'} AND id NOT IN (SELECT image_id FROM scores WHERE name = ?)"
    return (
        scored
        + conn.execute(
            f"{RECORD_SELECT}{unscored} ORDER BY id" + _page_sql(rest, skip), [*args, name]
        ).fetchall()
    )


def count_images(ws: Workspace, **filters: Any) -> int:
    """How many images ``list_images`` with the same filters would return (no order, no pages)."""
    chosen = ImageFilter(**filters)
    where, args = chosen.where()
    with ws.session() as conn:
        conn.execute("BEGIN")  # one snapshot for "all minus the flagged"
        if not chosen.no_flags:
            sql = f"SELECT COUNT(*) FROM {chosen.tables()}{where}"
            return int(conn.execute(sql, args).fetchone()[0])
        # All minus the flagged: probing the few flagged ids beats a NOT IN over every row.
        base, args = replace(chosen, no_flags=False).where()
        flagged = f"{base or ' WHERE 1'} AND id IN (SELECT image_id FROM flags)"
        tables = chosen.tables()
        (everything,) = conn.execute(f"SELECT COUNT(*) FROM {tables}{base}", args).fetchone()
        (with_flags,) = conn.execute(f"SELECT COUNT(*) FROM {tables}{flagged}", args).fetchone()
        return int(everything - with_flags)


def get_image(ws: Workspace, image_id: int) -> ImageRecord:
    """One image by id."""
    with ws.session() as conn:
        rows = conn.execute(f"{RECORD_SELECT} WHERE id = ?", (image_id,)).fetchall()
        if not rows:
            raise CuratorError(f"no image with id {image_id}")
        return _records(conn, rows)[0]


def summary(ws: Workspace) -> dict[str, Any]:
    """Counts ``by_status``, ``by_source``, ``by_round`` (string keys), ``by_flag``; ``total``."""
    with ws.session() as conn:

        def counts(sql: str) -> dict[str, int]:
            return {str(key): n for key, n in conn.execute(sql)}

        by_status = {s: 0 for s in STATUSES}
        by_status.update(counts("SELECT status, COUNT(*) FROM image_status GROUP BY status"))
        return {
            "total": conn.execute("SELECT COUNT(*) FROM images").fetchone()[0],
            "by_status": by_status,
            "by_source": counts("SELECT source, COUNT(*) FROM images GROUP BY source"),
            "by_round": counts("SELECT round, COUNT(*) FROM images GROUP BY round ORDER BY round"),
            "by_flag": counts("SELECT flag, COUNT(*) FROM flags GROUP BY flag ORDER BY flag"),
        }


@dataclass
class _Watch:
    conn: sqlite3.Connection
    file: tuple[int, int]  # (device, inode) of the catalog file it has open
    serial: int  # unique per watch: a token never repeats after a watch is dropped
    data_version: int
    writes: int = 0


_WATCHES: dict[str, _Watch] = {}  # oldest first
_WATCHES_LOCK = threading.Lock()
_WATCH_SERIALS = itertools.count()
MAX_WATCHES = 8  # catalogs watched at once (the studio switches between a few workspaces)


def catalog_version(db_path: Path) -> tuple:
    """A token that changes whenever a write to the catalog is committed (by any process), and
    only then.

    One long-lived read-only connection per catalog asks SQLite's ``PRAGMA data_version``, which
    moves when another connection commits. The files' stats would also move when a checkpoint
    copies the write-ahead log into the catalog file, which changes nothing in it but would make
    the studio read and draw the map again. Where that connection cannot be opened (read-only
    media without the WAL index), the files' stats are the token, as they were before.
    """
    key = str(db_path)
    try:
        stat = db_path.stat()
    except FileNotFoundError:
        _drop_watch(key)  # let go of a deleted catalog's file
        return (key, None)
    file = (stat.st_dev, stat.st_ino)
    with _WATCHES_LOCK:
        watch = _WATCHES.get(key)
        if watch is None or watch.file != file:
            _drop_watch(key, locked=True)
            watch = _open_watch(db_path, file)
            if watch is None:
                return (key, *_file_stats(db_path))
        try:
            version = watch.conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            _drop_watch(key, locked=True)  # reopened on the next call, under a new serial
            return (key, *_file_stats(db_path))
        if version != watch.data_version:
            watch.data_version, watch.writes = version, watch.writes + 1
        return (key, file, watch.serial, watch.writes)


def _open_watch(db_path: Path, file: tuple[int, int]) -> _Watch | None:
    # mode=ro, never immutable: an immutable connection would not see later commits
    try:
        uri = read_only_uri(db_path)
        conn = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the catalog is readable
    except sqlite3.Error:
        return None
    while len(_WATCHES) >= MAX_WATCHES:
        _drop_watch(next(iter(_WATCHES)), locked=True)
    watch = _WATCHES[str(db_path)] = _Watch(conn, file, next(_WATCH_SERIALS), version)
    return watch


def _drop_watch(key: str, *, locked: bool = False) -> None:
    with contextlib.nullcontext() if locked else _WATCHES_LOCK:
        watch = _WATCHES.pop(key, None)
        if watch is not None:
            watch.conn.close()


def _file_stats(db_path: Path) -> tuple:
    stats = []
    for path in (db_path, db_path.with_name(db_path.name + "-wal")):
        try:
            st_ = path.stat()
            stats.append((st_.st_mtime_ns, st_.st_size))
        except FileNotFoundError:
            stats.append(None)
    return tuple(stats)
