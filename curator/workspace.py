"""A workspace folder: catalog (SQLite, WAL), image store, embedding store, map, config."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from curator.config import (
    CONFIG_NAME,
    EmbeddingConfig,
    WorkspaceConfig,
    load_config,
    save_config,
)
from curator.errors import CuratorError
from curator.schema import SCHEMA_VERSION, migrate, schema_version
from curator.workspace_layout import WorkspaceLayout

CATALOG_NAME = "catalog.sqlite"


@dataclass(frozen=True)
class Workspace(WorkspaceLayout):
    """Paths and config of one workspace; ``connect()`` opens its catalog.

    Its folders (``store_dir``, ``exports_dir``, ...) come from ``WorkspaceLayout``, which the
    studio also builds from a bare root without opening the catalog.
    """

    config: WorkspaceConfig
    readonly: bool = False  # on read-only media or without write permission: reading only

    @property
    def db_path(self) -> Path:
        return self.root / CATALOG_NAME

    def connect(self) -> sqlite3.Connection:
        """A new connection (WAL, foreign keys on, rows as ``sqlite3.Row``)."""
        if self.readonly:
            conn = _connect_read_only(self.db_path)
        else:
            conn = sqlite3.connect(self.db_path, timeout=30.0)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextlib.contextmanager
    def session(self) -> Iterator[sqlite3.Connection]:
        """A catalog connection (``connect()``) that is closed when the block ends."""
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    def require_writable(self) -> None:
        """Raise one clear line if this workspace can only be read."""
        if self.readonly:
            raise CuratorError(
                f"{self.root}: the workspace is read-only here (reading, listing and exporting "
                "elsewhere work; changes need write access)"
            )

    @contextlib.contextmanager
    def transaction(self, *, checkpoint_later: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection inside one ``BEGIN IMMEDIATE`` transaction, committed on success.

        ``checkpoint_later``: the commit returns once the change is in the write-ahead log, and
        a background thread copies it into the catalog file (the checkpoint). For the changes a
        person waits on: rejecting 100k of a million images spent 0.2-0.5 s of its ~0.9 s in
        that copy (benchmarks/catalog_scale.py). The change is committed and visible either way.
        """
        self.require_writable()
        with self.session() as conn:
            if checkpoint_later:
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if checkpoint_later:
                _hand_over_checkpoint(self.db_path)

    @contextlib.contextmanager
    def writer_lock(self, *, wait_s: float = 0.0) -> Iterator[None]:
        """Exclusive lock held by whatever writes the store, embeddings or map.

        Re-entrant within a thread (the map places prompts, which embeds texts). Another
        holder makes this wait up to ``wait_s`` seconds, then fail with one line.
        """
        self.require_writable()
        key = (str(self.root.resolve()), threading.get_ident())
        if key in _HELD:
            yield
            return
        with open(self.root / ".writer.lock", "w") as handle:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise CuratorError(
                            f"{self.root}: another curator process is writing to this workspace"
                        ) from None
                    time.sleep(0.2)
            _HELD.add(key)
            try:
                yield
            finally:
                _HELD.discard(key)
                fcntl.flock(handle, fcntl.LOCK_UN)


_HELD: set[tuple[str, int]] = set()  # (workspace, thread) pairs holding the writer lock
LONG_WAIT_S = 600.0  # embedding and the map wait this long for another writer


def now_iso() -> str:
    """UTC timestamp with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """A value of the ``meta`` table, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Insert or replace a ``meta`` value (inside the caller's transaction)."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def id_chunks(conn: sqlite3.Connection, ids: list[int], reserved: int = 0) -> Iterator[list[int]]:
    """``ids`` in pieces that fit one statement's bound parameters (``reserved`` of them are
    the statement's own): 32,766 with SQLite 3.32 and later, 999 before."""
    size = max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - reserved)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def select_by_ids(cursor: sqlite3.Cursor, sql: str, ids: list[int]) -> list:
    """The rows of ``sql`` for ``ids``, where ``{ids}`` in ``sql`` stands for the id list: one
    statement per ``id_chunks`` piece, the rows in piece order."""
    rows: list = []
    for chunk in id_chunks(cursor.connection, ids):
        rows += cursor.execute(sql.format(ids=",".join("?" * len(chunk))), chunk).fetchall()
    return rows


def plain_cursor(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor returning tuples: ``sqlite3.Row`` costs several times more per row and field,
    which shows on a hundred thousand rows."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor


def read_only_uri(path: Path) -> str:
    """The SQLite URI that opens ``path`` for reading only."""
    return f"file:{quote(str(path.absolute()))}?mode=ro"


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open a catalog for reading where nothing may be written (read-only media, no permission).

    SQLite needs the WAL index (``-shm``) to read a WAL database; where it cannot be created, the
    file is opened as immutable, which is right because no one can write there either.
    """
    uri = read_only_uri(path)
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30.0)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}&immutable=1", uri=True, timeout=30.0)


def _is_writable(root: Path) -> bool:
    catalog = root / CATALOG_NAME
    return os.access(root, os.W_OK) and (not catalog.exists() or os.access(catalog, os.W_OK))


def _hand_over_checkpoint(db_path: Path) -> None:
    """Start the background checkpoint of a commit; never fails the committed transaction."""
    try:
        keeper = sqlite3.connect(db_path, timeout=30.0, check_same_thread=False)
    except sqlite3.Error:
        return  # the writer's close checkpoints instead
    try:
        # A read maps the WAL index and holds its shared lock, so the writer's close is not the
        # last one (which would checkpoint right there); an unused connection holds nothing.
        keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        checkpoint_in_background(keeper)
    except Exception:  # no thread to be had, or the like: the change is committed all the same
        keeper.close()


_CHECKPOINTS: list[threading.Thread] = []
_CHECKPOINTS_LOCK = threading.Lock()  # studio sessions commit from several threads


def checkpoint_in_background(conn: sqlite3.Connection) -> None:
    """Checkpoint the catalog's write-ahead log on ``conn`` in a thread, then close it.

    Not a daemon thread: a process waits for it before it exits (a PASSIVE checkpoint never waits
    for locks), so when a command ends its changes are in the catalog file itself and the log is
    gone, as they were before checkpoints moved to the background; a copy of ``catalog.sqlite``
    alone, the usual naive backup, then holds every decision.
    """

    def run() -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never waits for readers or writers
        except sqlite3.Error:
            pass  # busy: a later commit or the last close checkpoints instead
        finally:
            conn.close()

    thread = threading.Thread(target=run, name="catalog-checkpoint", daemon=False)
    thread.start()  # first: a thread that could not start is never waited for
    with _CHECKPOINTS_LOCK:
        _CHECKPOINTS[:] = [t for t in _CHECKPOINTS if t.is_alive()]
        _CHECKPOINTS.append(thread)


def wait_for_checkpoints() -> None:
    """Wait until the background checkpoints started so far have finished."""
    with _CHECKPOINTS_LOCK:
        started = list(_CHECKPOINTS)
    for thread in started:
        thread.join()


def _prepare(root: Path, config: WorkspaceConfig) -> Workspace:
    if not _is_writable(root):
        ws = Workspace(root=root, config=config, readonly=True)
        with ws.session() as conn:
            version = schema_version(conn)
        if version != SCHEMA_VERSION:
            raise CuratorError(
                f"{root}: read-only, and its catalog (schema v{version}) needs an upgrade to "
                f"v{SCHEMA_VERSION}; open it once where it can be written"
            )
        return ws
    ws = Workspace(root=root, config=config)
    for folder in (ws.store_dir, ws.embeddings_dir, ws.map_dir, ws.thumbs_dir):
        folder.mkdir(parents=True, exist_ok=True)
    with ws.session() as conn:
        migrate(conn)
    return ws


def init_workspace(root: str | Path, *, encoder: str | None = None) -> Workspace:
    """Create (or re-open) a workspace at ``root`` with ``encoder`` (default: ``default_encoder``).

    Re-opening with another encoder is refused: switching re-embeds every image
    (``curator.embeddings.switch_encoder``), which ``init`` must not do on the way.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise CuratorError(f"{root}: exists and is not a folder")
    config_path = root / CONFIG_NAME
    if config_path.exists():
        ws = open_workspace(root)
        if encoder and encoder != ws.config.embedding.encoder:
            raise CuratorError(
                f"{root}: already a workspace using encoder {ws.config.embedding.encoder!r}"
            )
        return ws
    from curator.encoder_choice import check_encoder_name, default_encoder

    if encoder:
        check_encoder_name(encoder)  # before anything is created
    root.mkdir(parents=True, exist_ok=True)
    config = WorkspaceConfig(embedding=EmbeddingConfig(encoder=encoder or default_encoder()))
    save_config(config_path, config)
    ws = _prepare(root, config)
    with ws.transaction() as conn:
        set_meta(conn, "created_at", now_iso())
        set_meta(conn, "config_at_creation", json.dumps({"encoder": config.embedding.encoder}))
    return ws


def open_workspace(root: str | Path) -> Workspace:
    """Open an existing workspace (migrating its catalog to the current schema)."""
    root = Path(root)
    config_path = root / CONFIG_NAME
    if not config_path.is_file():
        raise CuratorError(
            f"{root}: not a curator workspace (no {CONFIG_NAME}); run `curator init`"
        )
    return _prepare(root, load_config(config_path))
