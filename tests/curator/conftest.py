"""Curator fixtures: workspaces and small images."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.workspace import Workspace, init_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A fresh workspace using the offline encoder."""
    return init_workspace(tmp_path / "ws", encoder="efficientnet-lite0")
