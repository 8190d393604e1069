"""The append-only event log of a workspace: one row per change, written with the change itself."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from curator.workspace import Workspace, now_iso

PROVENANCE_ACTION = "provenance"  # ``catalog.set_provenance`` logs it; the map's readers watch it


@dataclass(frozen=True)
class Event:
    """One entry of the event log."""

    id: int
    time: str
    action: str
    payload: dict[str, Any]


def log_event(conn: sqlite3.Connection, action: str, payload: dict[str, Any]) -> int:
    """Append an event inside the caller's transaction (so it commits with the change)."""
    cursor = conn.execute(
        "INSERT INTO events (time, action, payload) VALUES (?, ?, ?)",
        (now_iso(), action, json.dumps(payload)),
    )
    return int(cursor.lastrowid)


def history(ws: Workspace, limit: int = 50) -> list[Event]:
    """The newest ``limit`` events, newest first."""
    with ws.session() as conn:
        rows = conn.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [Event(r["id"], r["time"], r["action"], json.loads(r["payload"])) for r in rows]


def ids_text(ids: list[int], shown: int = 10, *, total: bool = False) -> str:
    """``#1, #2, …`` for the first ``shown`` ids, ``…`` after them (``total``: and the count)."""
    head = ", ".join(f"#{i}" for i in ids[:shown])
    if len(ids) <= shown:
        return head
    return head + (f" … ({len(ids)} in all)" if total else " …")


def status_changed_ids(action: str, payload: dict[str, Any]) -> list[int]:
    """The images whose status an event changed (none for events that change no status)."""
    if "before" in payload:  # accept, reject, ...: each entry is (id, status, reason, time)
        return [int(entry[0]) for entry in payload["before"]]
    if action == "undo":
        return [int(i) for i in payload.get("ids", [])]
    return []


def describe_event(event: Event) -> str:
    """One line saying what an event changed (the CLI's and the studio's history)."""
    payload = event.payload
    if "before" in payload:  # a status change: accept, reject, ...
        ids = status_changed_ids(event.action, payload)
        reason = f" ({payload['reason']})" if payload.get("reason") else ""
        return f"{payload.get('status', '?')} {ids_text(ids, total=True)}{reason}"
    if event.action == "undo":
        ids = status_changed_ids(event.action, payload)
        return f"undid event {payload.get('undoes')}: {ids_text(ids, total=True)}"
    if event.action == PROVENANCE_ACTION:
        ids = ids_text(payload.get("ids", []), total=True)
        return f"set source {payload.get('source')} of {ids}"
    if "added" in payload:  # ingest and generate
        return f"added {ids_text(payload['added'], total=True)}"
    return json.dumps(payload, sort_keys=True)
