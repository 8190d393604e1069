"""Catalog schema: an ordered list of migrations; ``PRAGMA user_version`` is the schema version."""

from __future__ import annotations

import sqlite3

from curator.errors import CuratorError

# Each entry upgrades the schema from version i to i + 1. Never edit a released entry: append.
MIGRATIONS: list[str] = [
    # 1: images, prompts, quality flags, the append-only event log
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE prompts (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        negative TEXT NOT NULL DEFAULT '',
        parent_id INTEGER REFERENCES prompts(id),
        note TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        store_path TEXT NOT NULL,
        original_name TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        mode TEXT NOT NULL,
        bit_depth INTEGER NOT NULL,
        has_alpha INTEGER NOT NULL,
        has_icc INTEGER NOT NULL,
        format TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('original', 'generated', 'augmented')),
        round INTEGER NOT NULL DEFAULT 0,
        parent_id INTEGER REFERENCES images(id),
        prompt_id INTEGER REFERENCES prompts(id),
        seed INTEGER,
        generator_model TEXT,
        generator_settings TEXT,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'accepted', 'rejected')),
        status_reason TEXT NOT NULL DEFAULT '',
        status_time TEXT,
        phash TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX images_status ON images(status);
    CREATE INDEX images_prompt ON images(prompt_id);
    CREATE TABLE flags (
        image_id INTEGER NOT NULL REFERENCES images(id),
        flag TEXT NOT NULL,
        value REAL,
        detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (image_id, flag)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        action TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    """,
    # 2: embedding rows (content hash, model) -> row of the model's array file; map coordinates
    """
    CREATE TABLE embeddings (
        content_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        row INTEGER NOT NULL,
        PRIMARY KEY (content_hash, model)
    );
    CREATE TABLE text_embeddings (
        text_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        row INTEGER NOT NULL,
        PRIMARY KEY (text_hash, model)
    );
    CREATE TABLE map_coords (
        kind TEXT NOT NULL CHECK (kind IN ('image', 'prompt')),
        item_id INTEGER NOT NULL,
        x REAL NOT NULL,
        y REAL NOT NULL,
        fit_id TEXT NOT NULL,
        PRIMARY KEY (kind, item_id)
    );
    """,
    # 3: every image's quality measurements (curator.scores.SCORES), for range filters
    """
    CREATE TABLE scores (
        image_id INTEGER NOT NULL REFERENCES images(id),
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (image_id, name)
    );
    CREATE INDEX scores_by_value ON scores (name, value);
    """,
    # 4: indexes for the counts the studio shows on every page (benchmarks/catalog_scale.py:
    # grouping a million rows by source, round or flag without them takes over a second)
    """
    CREATE INDEX images_source ON images(source);
    CREATE INDEX images_round ON images(round);
    CREATE INDEX flags_by_flag ON flags(flag);
    """,
    # 5: sorting by a score reads this index in order (ties by image id) instead of sorting a
    # million rows (benchmarks/catalog_scale.py: 1.2 s -> ms); it covers the old one's prefix
    """
    DROP INDEX scores_by_value;
    CREATE INDEX scores_in_order ON scores (name, value, image_id);
    """,
    # 6: each image's status in a narrow table of its own. Rejecting 100k of a million images
    # rewrote most pages of the wide images table (2.6 s, benchmarks/catalog_scale.py); here it
    # touches ~30 bytes a row. A trigger gives every new image its row, so no writer can forget.
    """
    CREATE TABLE image_status (
        image_id INTEGER PRIMARY KEY REFERENCES images(id),
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'accepted', 'rejected')),
        status_reason TEXT NOT NULL DEFAULT '',
        status_time TEXT
    );
    INSERT INTO image_status SELECT id, status, status_reason, status_time FROM images;
    DROP INDEX images_status;
    ALTER TABLE images DROP COLUMN status;
    ALTER TABLE images DROP COLUMN status_reason;
    ALTER TABLE images DROP COLUMN status_time;
    CREATE INDEX image_status_by_status ON image_status(status);
    CREATE TRIGGER image_status_of_new_image AFTER INSERT ON images
    BEGIN
        -- only when missing: an outer INSERT OR REPLACE would otherwise reset a kept status
        INSERT INTO image_status (image_id)
            SELECT NEW.id WHERE NOT EXISTS (SELECT 1 FROM image_status WHERE image_id = NEW.id);
    END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The catalog's current schema version (0 for an empty database)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def statements(script: str) -> list[str]:
    """A migration's statements, one string each; a trigger's body stays whole."""
    done, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):  # false inside BEGIN ... END of a trigger
            if pending.strip(" \n;"):
                done.append(pending)
            pending = ""
    return done


def _migrate_one(conn: sqlite3.Connection, target: int) -> bool:
    """Apply the next migration under the write lock; False once the catalog is at ``target``.

    The version is read after the lock is taken: another process may have upgraded the catalog
    while this one waited, and running a step twice would fail (or worse, apply twice).
    """
    conn.commit()  # BEGIN needs no transaction open
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)
        if version < target:
            for statement in statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version + 1 < target


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations, each in its own locked transaction; returns the new version."""
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise CuratorError(
            f"catalog schema v{current} is newer than this curator (v{SCHEMA_VERSION}); upgrade it"
        )
    if current < 6 <= target and sqlite3.sqlite_version_info < (3, 35):
        raise CuratorError(
            f"upgrading this catalog needs SQLite 3.35 or newer (ALTER TABLE DROP COLUMN); "
            f"this Python has {sqlite3.sqlite_version}"
        )
    if current >= target:
        return current  # no write lock to open a current catalog: a long ingest may hold it
    while _migrate_one(conn, target):
        pass
    return schema_version(conn)
