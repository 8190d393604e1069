"""Workspace folders: one layout, for an opened ``Workspace`` and for a bare root alike."""

from __future__ import annotations

from pathlib import Path

from curator.workspace import init_workspace
from curator.workspace_layout import WorkspaceLayout

FOLDERS = (
    "store_dir", "embeddings_dir", "map_dir", "thumbs_dir", "exports_dir", "runs_dir",
    "studio_dir", "map_png",
)  # fmt: skip


def test_workspace__folders_are_the_layout_of_its_root(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    layout = WorkspaceLayout(ws.root)
    for name in FOLDERS:
        assert getattr(ws, name) == getattr(layout, name), name
    for folder in (layout.store_dir, layout.embeddings_dir, layout.map_dir, layout.thumbs_dir):
        assert folder.is_dir()


def test_workspace_layout__names_stay_those_on_disk(tmp_path: Path) -> None:
    layout = WorkspaceLayout(tmp_path)
    names = [getattr(layout, name).relative_to(tmp_path).as_posix() for name in FOLDERS]
    # existing workspaces keep working only while the names stay these
    assert names == ["store", "embeddings", "map", "thumbs", "exports", "runs", "studio", "map.png"]
