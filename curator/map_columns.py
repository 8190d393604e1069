"""The map's points as columns (numpy arrays), for maps of a million points.

``map_points`` builds one Python object per point (11 s at a million rows). Here every field is
one array, read in two parts so that a change of status reads little:

- the *placed* part (ids, coordinates, source, round, prompt) changes only when the map is
  written (``mark_map_written``) or an image's provenance is set (a ``provenance``
  event); ``map_columns(ws, previous)`` reuses ``previous``'s arrays while both are unchanged;
- the *state* part: statuses are updated from the event log (only the images whose status an
  event since ``previous`` changed are read) or, without a ``previous``, read through the status
  index (only accepted and rejected ids travel, pending is the rest); quality flags and the
  prompts' few points are read each time.

When the placed part is read from the catalog (1.2 s at a million points), it is saved with the
statuses in the workspace's map folder (``map/columns.npz``; not for ``use_copy=False``, a
read-only workspace, or a map last written by a version without ``MAP_TOKEN_KEY``). A later
process starts from that copy, as from a ``previous``, when the catalog says it is still
current: the same placed key (``mark_map_written`` sets a fresh random token beside the version
counter, so a catalog restored from a backup and mapped again cannot match a copy of other
coordinates) and the same event at the copy's ``event_id`` (time, action, payload length). The
catalog stays the owner of every value; the file only saves re-reading it.

Filters and box/lasso selections then run over the arrays (``mask``, ``inside``).
"""

from __future__ import annotations

import io
import json
import secrets
import sqlite3
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from curator.catalog import SOURCES, STATUSES
from curator.events import PROVENANCE_ACTION, status_changed_ids
from curator.workspace import Workspace, get_meta, plain_cursor, select_by_ids, set_meta
from sr.atomic import TEMP_PREFIX, atomic_path

MAP_VERSION_KEY = "map_version"  # bumped in the transaction that writes images' coordinates
MAP_TOKEN_KEY = "map_write_token"  # and a new random token beside it (mark_map_written)
SAVED_NAME = "columns.npz"  # a read of the placed part, in the workspace's map folder
SAVED_FORMAT = 1  # bump when what the copy holds, or how, changes
_SAVED_ARRAYS = {  # name: dtype
    "ids": np.int64, "x": np.float64, "y": np.float64, "source": np.int8, "round": np.int32,
    "prompt_id": np.int64, "status": np.int8,
}  # fmt: skip
# More event payload since a copy than this many bytes per point names about every point: one
# whole read of the statuses is then cheaper than parsing the events.
EVENT_BYTES_PER_POINT = 40
STALE_TEMP_S = 3600  # a copy's temp file this old belongs to a killed process
NO_PROMPT = -1
# Statuses are re-read whole once more than 1/FULL_READ_SHARE of the points changed: reading
# 100k changed ids one by one took longer than the status index's two lists (0.34 vs 0.2 s at 1M).
FULL_READ_SHARE = 20


@dataclass(frozen=True)
class MapColumns:
    """Every image point of the map as parallel arrays (sorted by id), plus the prompts' points.

    ``source`` and ``status`` are indexes into ``catalog.SOURCES`` / ``catalog.STATUSES``;
    ``prompt_id`` is ``NO_PROMPT`` for images without one; bit ``k`` of ``flags`` is set when
    the image carries ``flag_names[k]``. ``key`` says which placed state the arrays belong to,
    ``event_id`` the last event the statuses include, ``event_stamp`` what that event was.
    """

    key: tuple
    event_id: int
    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    source: np.ndarray
    round: np.ndarray
    prompt_id: np.ndarray
    status: np.ndarray
    flags: np.ndarray
    flag_names: tuple[str, ...]
    prompt_ids: np.ndarray
    prompt_x: np.ndarray
    prompt_y: np.ndarray
    event_stamp: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    def flag_mask(self, names: Sequence[str]) -> np.ndarray:
        """Images carrying any of ``names``."""
        bits = sum(1 << self.flag_names.index(n) for n in names if n in self.flag_names)
        return (self.flags & np.uint64(bits)) != 0

    def mask(self, filters: Mapping[str, object]) -> np.ndarray:
        """Images whose round/source/status are in the chosen lists and that carry ``flag``
        (the map page's filters; an empty or missing list keeps everything)."""
        keep = np.ones(len(self), dtype=bool)
        if filters.get("round"):
            keep &= np.isin(self.round, np.asarray(filters["round"], dtype=np.int64))
        for field, names in (("source", SOURCES), ("status", STATUSES)):
            if filters.get(field):
                codes = [names.index(v) for v in filters[field] if v in names]
                keep &= np.isin(getattr(self, field), codes)
        if filters.get("flag"):
            keep &= self.flag_mask([str(filters["flag"])])
        return keep


def map_columns(
    ws: Workspace, previous: MapColumns | None = None, *, use_copy: bool = True
) -> MapColumns:
    """The map's points as columns; ``previous``'s placed arrays are reused when still current.

    Without ``previous``, the copy saved in the map folder serves as one (``use_copy=False``:
    read everything from the catalog, and save nothing).
    """
    from_copy = previous is None and use_copy
    if from_copy:
        previous = _load_copy(ws.map_dir / SAVED_NAME)
    with ws.session() as conn:
        conn.execute("BEGIN")  # one snapshot: statuses and the event id they include agree
        cursor = plain_cursor(conn)
        key = _placed_key(cursor)
        (event_id,) = cursor.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        reuse = (
            previous is not None
            and previous.key == key
            and previous.event_id <= event_id
            and _event_stamp(cursor, previous.event_id) == previous.event_stamp
        )
        placed = previous if reuse else _read_placed(cursor, key)
        changed = _status_changed_since(cursor, previous.event_id, len(placed)) if reuse else None
        whole = changed is None or len(changed) > len(placed.ids) // FULL_READ_SHARE
        if not whole:
            status = placed.status.copy()
            sql = "SELECT image_id, status FROM image_status WHERE image_id IN ({ids})"
            now = [(i, STATUSES.index(name)) for i, name in select_by_ids(cursor, sql, changed)]
            _set_values(placed.ids, now, status)
        else:
            status = np.zeros(len(placed.ids), dtype=np.int8)  # STATUSES[0] is pending
            for code, name in enumerate(STATUSES[1:], start=1):
                sql = "SELECT image_id FROM image_status WHERE status = ?"
                rows = cursor.execute(sql, (name,)).fetchall()
                _set_at(placed.ids, _ints(rows), status, code)
        flag_rows = cursor.execute("SELECT image_id, flag FROM flags").fetchall()
        flag_names = tuple(sorted({flag for _, flag in flag_rows}))
        flags = np.zeros(len(placed.ids), dtype=np.uint64)
        if flag_rows:
            bit = {name: k for k, name in enumerate(flag_names)}
            image_ids = np.fromiter((r[0] for r in flag_rows), np.int64, len(flag_rows))
            bits = np.fromiter((1 << bit[r[1]] for r in flag_rows), np.uint64, len(flag_rows))
            rows_of, found = _rows_of(placed.ids, image_ids)
            np.bitwise_or.at(flags, rows_of[found], bits[found])
        prompts = cursor.execute(
            "SELECT item_id, x, y FROM map_coords WHERE kind = 'prompt' ORDER BY item_id"
        ).fetchall()
        stamp = _event_stamp(cursor, event_id)
    columns = replace(
        placed,
        event_id=event_id,
        event_stamp=stamp,
        status=status,
        flags=flags,
        flag_names=flag_names,
        prompt_ids=np.array([r[0] for r in prompts], dtype=np.int64),
        prompt_x=np.array([r[1] for r in prompts], dtype=np.float64),
        prompt_y=np.array([r[2] for r in prompts], dtype=np.float64),
    )
    # Saved when the placed part was read from the catalog, or when the copy was too far behind
    # to bring up to date from the events. Not after a whole re-read from a ``previous`` in
    # memory: writing tens of megabytes there would slow the studio's rerun after a Reject.
    renew = not reuse or (from_copy and whole)
    if use_copy and renew and key[1] is not None and not ws.readonly:
        _save_copy(ws.map_dir / SAVED_NAME, columns)
    return columns


def mark_map_written(conn: sqlite3.Connection) -> None:
    """Mark the placed points changed, inside the transaction that changes them."""
    version = get_meta(conn, MAP_VERSION_KEY)
    set_meta(conn, MAP_VERSION_KEY, str(int(version or 0) + 1))
    # A random token beside the counter: a catalog restored from a backup and mapped again
    # reaches the same count, never the same token, so a copy of other coordinates is not taken.
    set_meta(conn, MAP_TOKEN_KEY, secrets.token_hex(8))


def inside(columns: MapColumns, polygon: Sequence[tuple[float, float]]) -> np.ndarray:
    """Images whose point lies inside ``polygon`` (a lasso's vertices, or a box's corners)."""
    from matplotlib.path import Path as PolygonPath  # compiled point-in-polygon, ~0.1 s at 1M

    if len(polygon) < 3:
        return np.zeros(len(columns), dtype=bool)
    xy = np.column_stack([columns.x, columns.y])
    return PolygonPath(np.asarray(polygon, dtype=np.float64)).contains_points(xy)


def box_polygon(x: Sequence[float], y: Sequence[float]) -> list[tuple[float, float]]:
    """The four corners of the box spanning ``x`` and ``y`` (each a pair of bounds)."""
    (x0, x1), (y0, y1) = sorted(x), sorted(y)
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _status_changed_since(cursor: sqlite3.Cursor, event_id: int, points: int) -> list[int] | None:
    """Images whose status an event after ``event_id`` changed (accept, reject, undo, ...);
    None when those events are too large to be worth parsing (``EVENT_BYTES_PER_POINT``)."""
    (size,) = cursor.execute(
        "SELECT COALESCE(SUM(length(payload)), 0) FROM events WHERE id > ?", (event_id,)
    ).fetchone()
    if size > points * EVENT_BYTES_PER_POINT:
        return None
    changed: set[int] = set()
    for action, payload in cursor.execute(
        "SELECT action, payload FROM events WHERE id > ? ORDER BY id", (event_id,)
    ):
        changed.update(status_changed_ids(action, json.loads(payload)))
    return sorted(changed)


def _event_stamp(cursor: sqlite3.Cursor, event_id: int) -> str:
    """What event ``event_id`` was (time, action, payload length); "" for none."""
    row = cursor.execute(
        "SELECT time, action, length(payload) FROM events WHERE id = ?", (event_id,)
    ).fetchone()
    return "" if row is None else json.dumps(list(row))


def _save_copy(path: Path, columns: MapColumns) -> None:
    """Write the placed arrays and statuses of ``columns`` with what they belong to."""
    about = {
        "format": SAVED_FORMAT,
        "sources": list(SOURCES),  # the codes in ``source`` and ``status`` index these
        "statuses": list(STATUSES),
        "key": list(columns.key),
        "event_id": columns.event_id,
        "stamp": columns.event_stamp,
    }
    buffer = io.BytesIO()
    np.savez(buffer, about=np.array(json.dumps(about)), **_placed_arrays(columns))
    suffix = f"-{path.name}"
    try:
        for old in path.parent.glob(f"{TEMP_PREFIX}*{suffix}"):  # left by a killed process
            if time.time() - old.stat().st_mtime > STALE_TEMP_S:
                old.unlink(missing_ok=True)
        with atomic_path(path, suffix=suffix) as tmp:
            tmp.write_bytes(buffer.getbuffer())
    except OSError:  # a copy that cannot be saved only means the next process reads it all
        pass


def _load_copy(path: Path) -> MapColumns | None:
    """The saved columns as a ``previous``; None when missing, unreadable or of another format."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            about = json.loads(str(saved["about"][()]))
            arrays = {name: saved[name] for name in _SAVED_ARRAYS}
        event_id = about["event_id"]
        valid = (
            about["format"] == SAVED_FORMAT
            and about["sources"] == list(SOURCES)
            and about["statuses"] == list(STATUSES)
            and isinstance(about["key"], list)
            and isinstance(about["stamp"], str)
            and isinstance(event_id, int)
            and 0 <= event_id < 2**63
            and len({a.shape for a in arrays.values()}) == 1
            and all(a.ndim == 1 and a.dtype == _SAVED_ARRAYS[n] for n, a in arrays.items())
        )
        if not valid:
            return None
        return _placed_only(tuple(about["key"]), **arrays, event_id=event_id, stamp=about["stamp"])
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            zipfile.BadZipFile):  # fmt: skip
        return None  # a damaged or foreign file: read the catalog, and save a new copy


def _placed_arrays(columns: MapColumns) -> dict[str, np.ndarray]:
    return {name: getattr(columns, name) for name in _SAVED_ARRAYS}


def _placed_only(
    key: tuple, *, event_id: int = 0, stamp: str = "", **arrays: np.ndarray
) -> MapColumns:
    """Columns of the placed part (and statuses) only; the rest is filled by ``map_columns``."""
    empty = np.zeros(0)
    return MapColumns(
        key=key,
        event_id=event_id,
        flags=np.zeros(len(arrays["ids"]), dtype=np.uint64),
        flag_names=(),
        prompt_ids=empty.astype(np.int64),
        prompt_x=empty,
        prompt_y=empty,
        event_stamp=stamp,
        **arrays,
    )


def _placed_key(cursor: sqlite3.Cursor) -> tuple:
    (provenance,) = cursor.execute(
        "SELECT MAX(id) FROM events WHERE action = ?", (PROVENANCE_ACTION,)
    ).fetchone()
    meta = cursor.connection
    return (get_meta(meta, MAP_VERSION_KEY), get_meta(meta, MAP_TOKEN_KEY), provenance)


def _read_placed(cursor: sqlite3.Cursor, key: tuple) -> MapColumns:
    coords = cursor.execute(
        "SELECT item_id, x, y FROM map_coords WHERE kind = 'image' ORDER BY item_id"
    ).fetchall()
    n = len(coords)
    ids = np.fromiter((r[0] for r in coords), np.int64, n)
    x = np.fromiter((r[1] for r in coords), np.float64, n)
    y = np.fromiter((r[2] for r in coords), np.float64, n)
    del coords
    source = np.zeros(n, dtype=np.int8)
    round_ = np.zeros(n, dtype=np.int32)
    prompt_id = np.full(n, NO_PROMPT, dtype=np.int64)
    # Only what differs from the defaults travels, through the indexes on source and round.
    for code, name in enumerate(SOURCES[1:], start=1):
        rows = cursor.execute("SELECT id FROM images WHERE source = ?", (name,)).fetchall()
        _set_at(ids, _ints(rows), source, code)
    rows = cursor.execute("SELECT id, round FROM images WHERE round != 0").fetchall()
    _set_values(ids, rows, round_)
    rows = cursor.execute("SELECT id, prompt_id FROM images WHERE prompt_id IS NOT NULL").fetchall()
    _set_values(ids, rows, prompt_id)
    status = np.zeros(n, dtype=np.int8)  # filled by map_columns
    return _placed_only(
        key, ids=ids, x=x, y=y, source=source, round=round_, prompt_id=prompt_id, status=status
    )


def _ints(rows: list[tuple]) -> np.ndarray:
    return np.fromiter((r[0] for r in rows), np.int64, len(rows))


def _rows_of(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of each ``wanted`` id in the sorted ``ids`` and whether it is there at all."""
    rows = np.searchsorted(ids, wanted)
    rows = np.minimum(rows, max(len(ids) - 1, 0))
    found = (ids[rows] == wanted) if len(ids) else np.zeros(len(wanted), dtype=bool)
    return rows, found


def _set_at(ids: np.ndarray, wanted: np.ndarray, out: np.ndarray, value: int) -> None:
    rows, found = _rows_of(ids, wanted)
    out[rows[found]] = value


def _set_values(ids: np.ndarray, rows: list[tuple], out: np.ndarray) -> None:
    wanted = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    values = np.fromiter((r[1] for r in rows), out.dtype, len(rows))
    at, found = _rows_of(ids, wanted)
    out[at[found]] = values[found]
