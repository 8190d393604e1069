"""Status changes (accept/reject) recorded in the append-only event log, and undo.

An event's payload keeps each image's previous status, so undo restores exactly what was there.
Undo itself is an event that names the event it reverts; the log is never rewritten.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from curator.errors import CuratorError
from curator.events import history, ids_text, log_event
from curator.workspace import Workspace, id_chunks, now_iso, plain_cursor, select_by_ids

__all__ = ["accept", "accept_all_pending", "history", "reject", "reject_each", "undo_last"]

STATUS_ACTIONS = ("accept", "reject", "accept_all_pending")


def _set_status(
    ws: Workspace,
    ids: Iterable[int] | None,
    status: str,
    reason: str | dict[int, str],
    action: str,
    *,
    only_pending: bool = False,
) -> int:
    """Set ``status`` (with one reason, or a reason per id) in one transaction and one event.

    ``only_pending``: leave images that are no longer pending alone (a bulk action chose them
    as pending; a decision made meanwhile by another window stands).
    """
    reason_of = reason.get if isinstance(reason, dict) else (lambda _id: reason)
    with ws.transaction(checkpoint_later=True) as conn:
        if ids is None:
            rows = (
                plain_cursor(conn)
                .execute(
                    "SELECT image_id, status, status_reason, status_time FROM image_status"
                    " WHERE status = 'pending' ORDER BY image_id"
                )
                .fetchall()
            )
        else:
            wanted = sorted({int(i) for i in ids})
            rows = _rows_of(conn, wanted)
            if len(rows) != len(wanted):
                found = {r[0] for r in rows}
                missing = next(i for i in wanted if i not in found)
                raise CuratorError(f"no image with id {missing}")
        # rows are (id, status, reason, time): before-states as the event stores them
        if only_pending:
            rows = [r for r in rows if r[1] == "pending"]
        changed = [r for r in rows if r[1] != status or r[2] != reason_of(r[0])]
        if not changed:
            return 0
        time = now_iso()
        _write_statuses(conn, [(r[0], status, reason_of(r[0]), time) for r in changed])
        log_event(
            conn,
            action,
            {
                "status": status,
                "reason": reason if isinstance(reason, str) else "per image",
                "before": [list(r) for r in changed],
            },
        )
        return len(changed)


def _rows_of(conn: sqlite3.Connection, ids: list[int]) -> list[tuple]:
    """(id, status, status_reason, status_time) of these images, by id; unknown ids are absent."""
    sql = (
        "SELECT image_id, status, status_reason, status_time FROM image_status"
        " WHERE image_id IN ({ids}) ORDER BY image_id"
    )
    return select_by_ids(plain_cursor(conn), sql, ids)  # one query per piece, not per image


def _write_statuses(conn: sqlite3.Connection, entries: list[tuple]) -> None:
    """Set (id, status, reason, time) of each entry; entries sharing a state in one UPDATE."""
    groups: dict[tuple, list[int]] = {}
    for image_id, status, reason, time in entries:
        groups.setdefault((status, reason, time), []).append(int(image_id))
    for (status, reason, time), ids in groups.items():
        for chunk in id_chunks(conn, ids, reserved=3):
            conn.execute(
                "UPDATE image_status SET status = ?, status_reason = ?, status_time = ?"
                f" WHERE image_id IN ({','.join('?' * len(chunk))})",
                (status, reason, time, *chunk),
            )


def accept(ws: Workspace, ids: Iterable[int], *, reason: str = "") -> int:
    """Mark images accepted; returns how many changed."""
    return _set_status(ws, ids, "accepted", reason, "accept")


def reject(ws: Workspace, ids: Iterable[int], *, reason: str = "") -> int:
    """Mark images rejected (their files stay in the store); returns how many changed."""
    return _set_status(ws, ids, "rejected", reason, "reject")


def reject_each(ws: Workspace, reasons: dict[int, str]) -> int:
    """Reject several images, each with its own reason, as one undoable event."""
    return _set_status(ws, reasons, "rejected", reasons, "reject")


def accept_all_pending(ws: Workspace) -> int:
    """Accept every pending image; returns how many changed."""
    return _set_status(ws, None, "accepted", "", "accept_all_pending")


def undo_last(ws: Workspace) -> str | None:
    """Revert the newest status change not yet undone; returns what was undone, or None."""
    with ws.transaction(checkpoint_later=True) as conn:
        # json_extract reads one field: an undo's payload also lists every id it touched
        undone = {
            r[0]
            for r in conn.execute(
                "SELECT json_extract(payload, '$.undoes') FROM events WHERE action = 'undo'"
            )
        }
        placeholders = ",".join("?" * len(STATUS_ACTIONS))
        candidates = conn.execute(
            f"SELECT * FROM events WHERE action IN ({placeholders}) ORDER BY id DESC",
            STATUS_ACTIONS,
        )
        target = next((r for r in candidates if r["id"] not in undone), None)
        if target is None:
            return None
        payload = json.loads(target["payload"])
        _write_statuses(conn, [tuple(entry) for entry in payload["before"]])
        ids = [entry[0] for entry in payload["before"]]
        log_event(conn, "undo", {"undoes": target["id"], "ids": ids})
    return f"undid {target['action']} of {len(ids)} image(s): {ids_text(ids)}"


def accept_clean(ws: Workspace) -> int:
    """Accept every pending image that has no quality flag; returns how many changed."""
    from curator.catalog import list_images

    ids = [r.id for r in list_images(ws, status="pending", no_flags=True)]
    return _set_status(ws, ids, "accepted", "no quality flags", "accept", only_pending=True)


def reject_flagged(ws: Workspace, flags: Sequence[str] | None = None) -> int:
    """Reject every pending image with a quality flag (any of ``flags``, or any at all).

    Each image's reason names its flags, so the rejection explains itself and can be undone.
    """
    from curator.catalog import list_images

    pending = list_images(ws, status="pending", flag=flags or None)
    if flags is None:
        pending = [r for r in pending if r.flags]
    reasons = {r.id: "flagged: " + ", ".join(sorted(r.flags)) for r in pending}
    return _set_status(ws, reasons, "rejected", reasons, "reject", only_pending=True)
