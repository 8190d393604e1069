"""Workspace creation, catalog schema and migrations."""

from __future__ import annotations

import sqlite3
import time
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
        # UMAP's own range checks do not run (curator.umap_fit): the config checks them
        ("map:\n  min_dist: 2\n", r"map\.min_dist: .*2"),
        ("map:\n  n_neighbors: 1\n", r"map\.n_neighbors: .*1"),
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
    for image_id, status, reason, when in rows:
        conn.execute(
            "INSERT INTO images (id, content_hash, store_path, original_name, width, height, mode,"
            " bit_depth, has_alpha, has_icc, format, source, status, status_reason, status_time,"
            " created_at) VALUES (?, ?, ?, ?, 8, 8, 'RGB', 8, 0, 0, 'PNG', 'original', ?, ?, ?,"
            " '2026-01-01T00:00:00')",
            (image_id, f"{image_id:064x}", f"ab/{image_id}.png", f"{image_id}.png", status,
             reason, when),
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


def test_migrate__two_processes_upgrading_at_once_both_succeed(tmp_path: Path) -> None:
    """The version is read under the write lock: a second upgrader finds the step done."""
    import threading

    from curator.schema import statements

    path = tmp_path / "catalog.sqlite"
    first = sqlite3.connect(path, timeout=30.0)
    migrate(first, target=5)
    first.execute("INSERT INTO meta VALUES ('kept', 'yes')")
    first.commit()
    first.execute("BEGIN IMMEDIATE")  # the first upgrader holds the lock ...
    second = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
    outcome: list[object] = []
    waiter = threading.Thread(target=lambda: outcome.append(_try(migrate, second)))
    waiter.start()
    time.sleep(0.5)  # ... while the second one, having read v5, waits for it
    for statement in statements(MIGRATIONS[5]):
        first.execute(statement)
    first.execute("PRAGMA user_version = 6")
    first.execute("COMMIT")
    waiter.join(timeout=30)
    assert outcome == [SCHEMA_VERSION]
    assert first.execute("SELECT value FROM meta WHERE key = 'kept'").fetchone() == ("yes",)


def _try(function, *args):
    try:
        return function(*args)
    except Exception as error:  # the test reports it rather than losing it in the thread
        return error


def test_statements__keep_a_trigger_body_whole() -> None:
    """Splitting a migration at semicolons would cut a trigger in two."""
    from curator.schema import statements

    parts = statements(MIGRATIONS[5])
    assert sum("CREATE TRIGGER" in part for part in parts) == 1
    trigger = next(part for part in parts if "CREATE TRIGGER" in part)
    assert trigger.rstrip().endswith("END;") and sqlite3.complete_statement(trigger)
    assert len(parts) == MIGRATIONS[5].count(";") - 1  # the one ; inside the trigger's body
