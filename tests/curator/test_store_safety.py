"""The store sweep removes only its own temp files; files it does not know are never deleted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from curator.catalog import list_images
from curator.ingest import ingest_paths
from curator.workspace import CATALOG_NAME, Workspace


def _backup_catalog(ws: Workspace, to: Path) -> None:
    source = sqlite3.connect(ws.db_path)
    target = sqlite3.connect(to)
    source.backup(target)
    source.close()
    target.close()


def _restore_catalog(ws: Workspace, backup: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{ws.db_path}{suffix}").unlink(missing_ok=True)
    (ws.root / CATALOG_NAME).write_bytes(backup.read_bytes())


def test_sweep_store__keeps_unknown_files_removes_temp_files(
    ws: Workspace, ingest_set, tmp_path: Path
) -> None:
    ingest_set(ws, tmp_path / "a", 2)
    mine = ws.store_dir / "notes.txt"
    mine.write_text("the user's own file")
    orphan = ws.store_dir / "ab" / ("ab" + "0" * 62 + ".png")
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"not in the catalog")
    temp = ws.store_dir / "ab" / ".incoming-xyz"
    temp.write_bytes(b"partial")
    ingest_set(ws, tmp_path / "b", 2, start=10)
    assert mine.read_text() == "the user's own file"
    assert orphan.read_bytes() == b"not in the catalog"
    assert not temp.exists()


def test_sweep_store__restored_catalog_backup_keeps_newer_files(
    ws: Workspace, ingest_set, tmp_path: Path
) -> None:
    ingest_set(ws, tmp_path / "a", 2)
    _backup_catalog(ws, tmp_path / "backup.sqlite")
    later = ingest_set(ws, tmp_path / "b", 2, start=10)
    later_files = [ws.store_dir / r.store_path for r in list_images(ws) if r.id in later]
    later_bytes = [p.read_bytes() for p in later_files]
    _restore_catalog(ws, tmp_path / "backup.sqlite")
    assert len(list_images(ws)) == 2  # the catalog forgot the later images ...
    ingest_set(ws, tmp_path / "c", 1, start=20)  # ... and the next ingest sweeps the store
    assert [p.read_bytes() for p in later_files] == later_bytes  # their files are still there
    report = ingest_paths(ws, [tmp_path / "b"])  # re-ingesting adopts them again
    assert len(report.added) == 2 and len(list_images(ws)) == 5
