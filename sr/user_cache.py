"""The project's folder in the user cache: converted weights, replay pictures, and thumbnails of
workspaces that cannot be written. Torch-free, so catalog commands can find it too."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SR_CACHE_DIR"  # set to move the whole cache elsewhere
CACHE_NAME = "sr-curation-studio"


def cache_dir() -> Path:
    """``$SR_CACHE_DIR``, else ``$XDG_CACHE_HOME/sr-curation-studio`` (``~/.cache`` if unset)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / CACHE_NAME
