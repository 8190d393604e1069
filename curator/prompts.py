"""Versioned prompts: a refined prompt is a new row linked to the version it came from."""

from __future__ import annotations

from dataclasses import dataclass

from curator.catalog import IMAGES_WITH_STATUS
from curator.errors import CuratorError
from curator.workspace import Workspace, now_iso


@dataclass(frozen=True)
class Prompt:
    """One prompt version."""

    id: int
    text: str
    negative: str
    parent_id: int | None
    note: str
    created_at: str


@dataclass(frozen=True)
class PromptStats:
    """Counts of the images generated from one prompt version."""

    prompt_id: int
    total: int
    accepted: int
    rejected: int
    pending: int

    @property
    def rejection_rate(self) -> float:
        """Rejected / decided (0 when nothing is decided yet)."""
        decided = self.accepted + self.rejected
        return self.rejected / decided if decided else 0.0


def add_prompt(
    ws: Workspace, text: str, *, negative: str = "", parent_id: int | None = None, note: str = ""
) -> int:
    """Store a prompt version; returns its id."""
    text = " ".join(text.split())
    if not text:
        raise CuratorError("a prompt needs some text")
    with ws.transaction() as conn:
        if (
            parent_id is not None
            and not conn.execute("SELECT 1 FROM prompts WHERE id = ?", (parent_id,)).fetchone()
        ):
            raise CuratorError(f"no prompt with id {parent_id}")
        cursor = conn.execute(
            "INSERT INTO prompts (text, negative, parent_id, note, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (text, " ".join(negative.split()), parent_id, note, now_iso()),
        )
        return int(cursor.lastrowid)


def list_prompts(ws: Workspace) -> list[Prompt]:
    """Every prompt version, by id."""
    with ws.session() as conn:
        return [Prompt(**dict(r)) for r in conn.execute("SELECT * FROM prompts ORDER BY id")]


def get_prompt(ws: Workspace, prompt_id: int) -> Prompt:
    """One prompt version."""
    with ws.session() as conn:
        row = conn.execute("SELECT * FROM prompts WHERE id = ?", (prompt_id,)).fetchone()
    if row is None:
        raise CuratorError(f"no prompt with id {prompt_id}")
    return Prompt(**dict(row))


def lineage(ws: Workspace, prompt_id: int) -> list[Prompt]:
    """The chain of versions from the first one to ``prompt_id`` (oldest first)."""
    chain = [get_prompt(ws, prompt_id)]
    while chain[-1].parent_id is not None:
        chain.append(get_prompt(ws, chain[-1].parent_id))
    return chain[::-1]


def prompt_stats(ws: Workspace, prompt_id: int) -> PromptStats:
    """Image counts by status for one prompt version."""
    get_prompt(ws, prompt_id)
    with ws.session() as conn:
        counts = dict(
            conn.execute(
                f"SELECT status, COUNT(*) FROM {IMAGES_WITH_STATUS} WHERE prompt_id = ?"
                " GROUP BY status",
                (prompt_id,),
            ).fetchall()
        )
    return PromptStats(
        prompt_id,
        sum(counts.values()),
        counts.get("accepted", 0),
        counts.get("rejected", 0),
        counts.get("pending", 0),
    )
