"""Workspace creation, catalog schema and migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from curator.config import CONFIG_NAME
from curator.errors import CuratorError
from curator.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version
from curator.workspace import init_workspace, open_workspace


def test_init_workspace__creates_layout_in_wal_mode(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    for folder in (ws.store_dir, ws.embeddings_dir, ws.map_dir):
        assert folder.is_dir()
    assert (ws.root / CONFIG_NAME).is_file()
    conn = ws.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(conn) == SCHEMA_VERSION
    conn.close()
    assert open_workspace(ws.root).config == ws.config


def test_open_workspace__not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(CuratorError, match="not a curator workspace"):
        open_workspace(tmp_path)


def test_init_workspace__unknown_encoder_refused(tmp_path: Path) -> None:
    with pytest.raises(CuratorError, match="encoder"):
        init_workspace(tmp_path / "w", encoder="resnet-9000")


def test_migrate__upgrades_a_version_one_catalog_keeping_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    migrate(conn, target=1)
    conn.execute(
        "INSERT INTO prompts (text, created_at) VALUES ('a castle', '2024-01-01T00:00:00')"
    )
    conn.commit()
    assert schema_version(conn) == 1
    assert migrate(conn) == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"embeddings", "map_coords", "images", "events"} <= tables
    assert conn.execute("SELECT text FROM prompts").fetchone()[0] == "a castle"


def test_open_workspace__refuses_newer_schema(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    conn = ws.connect()
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CuratorError, match="newer"):
        open_workspace(ws.root)


def test_open_workspace__bad_config_key(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    (ws.root / CONFIG_NAME).write_text("ingest:\n  max_pixel: 5\n")
    with pytest.raises(CuratorError, match="max_pixel"):
        open_workspace(ws.root)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mapp:\n  seed: 1\n", "mapp"),
        ("map: 3\n", "expected a mapping"),
        ("map:\n  n_neighbors: many\n", "n_neighbors: expected int"),
    ],
)
def test_open_workspace__bad_config_named(tmp_path: Path, text: str, reason: str) -> None:
    ws = init_workspace(tmp_path / "w")
    (ws.root / CONFIG_NAME).write_text(text)
    with pytest.raises(CuratorError, match=rf"{CONFIG_NAME}: .*{reason}"):
        open_workspace(ws.root)


def test_open_workspace__config_values_read(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    (ws.root / CONFIG_NAME).write_text("map:\n  min_dist: 1\n  seed: 7\n")
    config = open_workspace(ws.root).config
    assert config.map.min_dist == 1.0 and isinstance(config.map.min_dist, float)
    assert config.map.seed == 7 and config.ingest.max_pixels == 200_000_000


def test_open_workspace__non_utf8_config_is_one_clear_error(tmp_path) -> None:
    import pytest

    from curator.errors import CuratorError
    from curator.workspace import init_workspace, open_workspace

    ws = init_workspace(tmp_path / "ws", encoder="efficientnet-lite0")
    (ws.root / "curator.yaml").write_bytes(b"ingest: {max_pixels: \xff\xfe}\n")
    with pytest.raises(CuratorError, match="cannot read config"):
        open_workspace(ws.root)
