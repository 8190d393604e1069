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


def test_migrate__statuses_move_to_their_own_table_exactly(tmp_path: Path) -> None:
    """Schema v6: every image keeps its status, reason and time; new images start pending."""
    from curator.catalog import get_image, list_images
    from curator.curation import reject, undo_last

    ws = init_workspace(tmp_path / "w")
    ws.db_path.unlink()  # the same workspace with a version 5 catalog, as the previous release
    for leftover in ws.root.glob("catalog.sqlite-*"):
        leftover.unlink()
    conn = sqlite3.connect(ws.db_path)
    migrate(conn, target=5)
    rows = [
        (1, "pending", "", None),
        (2, "accepted", "sharp", "2026-01-01T00:00:00"),
        (3, "rejected", "watermark", "2026-01-02T00:00:00"),
    ]
    for image_id, status, reason, time in rows:
        conn.execute(
            "INSERT INTO images (id, content_hash, store_path, original_name, width, height, mode,"
            " bit_depth, has_alpha, has_icc, format, source, status, status_reason, status_time,"
            " created_at) VALUES (?, ?, ?, ?, 8, 8, 'RGB', 8, 0, 0, 'PNG', 'original', ?, ?, ?,"
            " '2026-01-01T00:00:00')",
            (image_id, f"{image_id:064x}", f"ab/{image_id}.png", f"{image_id}.png", status,
             reason, time),
        )  # fmt: skip
    conn.commit()
    conn.close()
    ws = open_workspace(ws.root)  # migrates
    kept = [(r.id, r.status, r.status_reason, r.status_time) for r in list_images(ws)]
    assert kept == rows
    with ws.session() as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(images)")}
        assert not columns & {"status", "status_reason", "status_time"}  # one owner of a status
        conn.execute(
            "INSERT INTO images (id, content_hash, store_path, original_name, width, height, mode,"
            " bit_depth, has_alpha, has_icc, format, source, created_at) VALUES (4, 'x', 'ab/4',"
            " '4.png', 8, 8, 'RGB', 8, 0, 0, 'PNG', 'original', '2026-01-03T00:00:00')"
        )  # fmt: skip
        conn.commit()
    assert get_image(ws, 4).status == "pending"  # the trigger gave the new image its row
    with ws.session() as conn:  # a writer's REPLACE of an image row keeps its status
        conn.execute("INSERT OR REPLACE INTO images SELECT * FROM images WHERE id = 3")
        conn.commit()
    assert (get_image(ws, 3).status, get_image(ws, 3).status_reason) == ("rejected", "watermark")
    reject(ws, [1, 4], reason="test")
    assert [r.id for r in list_images(ws, status="rejected")] == [1, 3, 4]
    undo_last(ws)
    assert [(r.id, r.status, r.status_reason) for r in list_images(ws)][:3] == [
        (1, "pending", ""), (2, "accepted", "sharp"), (3, "rejected", "watermark"),
    ]  # fmt: skip
