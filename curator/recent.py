"""The workspaces a person opened lately, newest first (the studio's *Recent* list).

Kept in ``$XDG_CONFIG_HOME/sr-curation-studio/recent-workspaces.json`` (``~/.config`` if unset):
a preference of the user, not a fact of any workspace, so it lives outside them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sr.atomic import write_atomic

RECENT_LIMIT = 10
CONFIG_NAME = "sr-curation-studio"


def recent_file() -> Path:
    """Where the list is stored."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / CONFIG_NAME / "recent-workspaces.json"


def _stored() -> list[str]:
    try:
        names = json.loads(recent_file().read_text())
    except (OSError, ValueError):
        return []  # none yet, or unreadable: the list is a convenience, never an error
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def recent_workspaces() -> list[Path]:
    """Workspaces opened lately that still exist, newest first."""
    from curator.config import CONFIG_NAME as WORKSPACE_CONFIG

    return [Path(n) for n in _stored() if (Path(n) / WORKSPACE_CONFIG).is_file()]


def remember_workspace(root: Path) -> None:
    """Put ``root`` at the top of the list (a failed write is ignored: it is only a list)."""
    name = str(Path(root).expanduser().resolve())
    names = [name, *(n for n in _stored() if n != name)][:RECENT_LIMIT]
    try:
        recent_file().parent.mkdir(parents=True, exist_ok=True)
        write_atomic(recent_file(), json.dumps(names, indent=1).encode("utf-8"))
    except OSError:
        pass
