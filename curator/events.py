"""The append-only event log of a workspace: one row per change, written with the change itself."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from curator.workspace import Workspace, now_iso


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
