"""The one guard for every path a command may replace: no write lands on data it was not given.

Every caller that overwrites or replaces a file or folder (``curator export --overwrite``,
``sr upscale`` outputs, store sweeps) asks ``check_target`` first, and replaces old content with
``move_aside`` (a dated backup beside it), never with a delete.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path


class UnsafeTargetError(ValueError):
    """A target that would overwrite protected data; the message names both paths."""


def _real(path: Path) -> Path:
    """Absolute path with links resolved (works for paths that do not exist yet)."""
    return Path(os.path.realpath(path))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_target(
    target: str | Path,
    *,
    protected: Iterable[str | Path] = (),
    inputs: Iterable[str | Path] = (),
    what: str = "output",
) -> None:
    """Refuse ``target`` if it is, contains or is inside a ``protected`` folder, or is an input.

    Raises ``UnsafeTargetError`` with one line naming the target and what it would destroy.
    Links are resolved first, so a link to the workspace is the workspace.
    """
    real = _real(Path(target))
    for folder in protected:
        guarded = _real(Path(folder))
        if _inside(real, guarded):
            relation = "is" if real == guarded else "is inside"
            raise UnsafeTargetError(
                f"{target}: refusing to write there: the {what} {relation} {folder}"
            )
        if _inside(guarded, real):
            raise UnsafeTargetError(f"{target}: refusing to write there: it contains {folder}")
    for item in inputs:
        if real == _real(Path(item)):
            raise UnsafeTargetError(f"{target}: refusing to overwrite an input ({item})")


def backup_name(path: Path, when: datetime | None = None) -> Path:
    """A free sibling name ``NAME.backup-YYYYMMDD-HHMMSS[-N]`` for ``path``."""
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.backup-{stamp}")
    n = 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}.backup-{stamp}-{n}")
    return candidate


def move_aside(path: str | Path) -> Path:
    """Rename ``path`` to a dated backup beside it (same folder, so it is a cheap atomic rename)."""
    path = Path(path)
    backup = backup_name(path)
    os.rename(path, backup)
    return backup
