"""Accept/reject with the event log, undo, and the status/list/accept/reject/undo CLI."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

from curator.catalog import get_image, list_images
from curator.cli import main
from curator.curation import accept, accept_all_pending, history, reject, undo_last
from curator.errors import CuratorError
from curator.ingest import ingest_paths
from curator.store import image_path
from curator.workspace import Workspace
from tests.curator.helpers import natural, save


@pytest.fixture
def three(ws: Workspace, tmp_path: Path) -> list[int]:
    for i, name in enumerate(("astronaut", "chelsea", "coffee")):
        save(tmp_path / "in" / f"{i}.png", natural(name, 64))
    return ingest_paths(ws, [tmp_path / "in"]).added


def test_reject_then_undo__restores_previous_state(ws: Workspace, three: list[int]) -> None:
    a, b, c = three
    assert accept(ws, [a, b], reason="sharp") == 2
    assert reject(ws, [b, c], reason="watermark") == 2
    assert get_image(ws, b).status == "rejected" and get_image(ws, b).status_reason == "watermark"
    assert image_path(ws, get_image(ws, b)).is_file()  # rejecting never deletes
    message = undo_last(ws)
    assert message is not None and "reject" in message and "2 image" in message
    assert (get_image(ws, b).status, get_image(ws, b).status_reason) == ("accepted", "sharp")
    assert get_image(ws, c).status == "pending"
    undo_last(ws)  # the accept
    assert [get_image(ws, i).status for i in three] == ["pending"] * 3
    assert undo_last(ws) is None
    actions = [e.action for e in history(ws)]
    # append-only log; each image's ingest event was committed with its row
    assert actions == ["undo", "undo", "reject", "accept", "ingest", "ingest", "ingest"]
    ingested = [e.payload["added"] for e in history(ws) if e.action == "ingest"]
    assert sorted(i for added in ingested for i in added) == sorted(three)


def test_accept_all_pending__only_pending(ws: Workspace, three: list[int]) -> None:
    reject(ws, [three[0]])
    assert accept_all_pending(ws) == 2
    assert [r.status for r in list_images(ws)] == ["rejected", "accepted", "accepted"]
    assert accept_all_pending(ws) == 0


def test_accept__unknown_id_changes_nothing(ws: Workspace, three: list[int]) -> None:
    with pytest.raises(CuratorError, match="no image with id 999"):
        accept(ws, [three[0], 999])
    assert get_image(ws, three[0]).status == "pending"


def test_cli__status_list_accept_reject_undo(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "in" / "x.png", natural("rocket", 64))
    save(tmp_path / "in" / "y.png", natural("coffee", 64))
    (tmp_path / "in" / "z.png").write_bytes(b"")
    root = str(ws.root)
    assert main(["ingest", root, str(tmp_path / "in")]) == 1  # one refused file → non-zero
    err = capsys.readouterr().err
    assert "z.png: empty file" in err
    assert main(["reject", root, "1", "--reason", "blurry"]) == 0
    assert main(["accept", root, "--all-pending"]) == 0
    capsys.readouterr()
    assert main(["status", root, "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["by_status"] == {"pending": 0, "accepted": 1, "rejected": 1}
    assert counts["by_source"] == {"original": 2} and counts["by_round"] == {"0": 2}
    assert main(["list", root, "--status", "rejected", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [1] and listed[0]["status_reason"] == "blurry"
    assert main(["undo", root]) == 0
    assert "accept_all_pending" in capsys.readouterr().out
    assert get_image(ws, 2).status == "pending"
    assert main(["list", root]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].split()[:2] == ["1", "rejected"]
    assert main(["accept", root, "42"]) == 2
    assert "no image with id 42" in capsys.readouterr().err


def test_cli__reader_closing_the_pipe_stops_quietly(
    ws: Workspace, three: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # like `curator list WS | head` after head has exited
    saved = os.dup(1)
    try:
        os.dup2(write_end, 1)
        monkeypatch.setattr(sys, "stdout", os.fdopen(1, "w", closefd=False, buffering=1))
        assert main(["list", str(ws.root)]) == 141
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(write_end)


def test_bulk_reject_and_undo__fit_a_low_sqlite_parameter_limit(ws, tmp_path, monkeypatch):
    """Older SQLite builds allow 999 bound parameters: big selections go in pieces."""
    import sqlite3

    from curator.workspace import Workspace

    connect = Workspace.connect

    def limited(self):
        conn = connect(self)
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 7)
        return conn

    rng = np.random.default_rng(0)
    for k in range(20):
        save(tmp_path / "many" / f"{k}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    ids = ingest_paths(ws, [tmp_path / "many"]).added
    monkeypatch.setattr(Workspace, "connect", limited)
    assert reject(ws, ids, reason="bulk") == 20
    assert {r.status for r in list_images(ws)} == {"rejected"}
    assert undo_last(ws).startswith("undid reject of 20 image(s)")
    assert {r.status for r in list_images(ws)} == {"pending"}
    with pytest.raises(CuratorError, match=f"no image with id {max(ids) + 1}"):
        reject(ws, [*ids, max(ids) + 1])


def _statuses_in_catalog_file(ws: Workspace, tmp_path: Path) -> dict[int, str]:
    """Statuses as the catalog file holds them, without its write-ahead log (a copy of it alone)."""
    import shutil
    import sqlite3

    alone = tmp_path / "file-only.sqlite"
    shutil.copyfile(ws.db_path, alone)
    with contextlib.closing(sqlite3.connect(alone)) as conn:
        return dict(conn.execute("SELECT image_id, status FROM image_status"))


def test_reject__checkpoints_after_returning_and_loses_nothing(
    ws: Workspace, three: list[int], tmp_path: Path, monkeypatch
) -> None:
    """The commit returns with the change in the log; a background checkpoint writes the file."""
    import curator.workspace as workspace

    connect = Workspace.connect

    def eager(self: Workspace):  # a commit of any size now passes the auto-checkpoint threshold
        conn = connect(self)
        conn.execute("PRAGMA wal_autocheckpoint = 1")
        return conn

    monkeypatch.setattr(Workspace, "connect", eager)
    held: list = []
    monkeypatch.setattr(workspace, "checkpoint_in_background", held.append)
    # no other connection open (a CLI command): the writer's close must not checkpoint either
    reject(ws, three[:2], reason="soft")
    assert [get_image(ws, i).status for i in three] == ["rejected", "rejected", "pending"]
    assert set(_statuses_in_catalog_file(ws, tmp_path).values()) == {"pending"}  # not yet
    monkeypatch.undo()  # the real checkpoint from here on
    workspace.checkpoint_in_background(held.pop())
    workspace.wait_for_checkpoints()
    in_file = _statuses_in_catalog_file(ws, tmp_path)
    assert [in_file[i] for i in three] == ["rejected", "rejected", "pending"]
    undo_last(ws)
    workspace.wait_for_checkpoints()
    assert set(_statuses_in_catalog_file(ws, tmp_path).values()) == {"pending"}


def test_reject__a_failing_checkpoint_handoff_does_not_fail_the_committed_change(
    ws: Workspace, three: list[int], monkeypatch
) -> None:
    import curator.workspace as workspace

    def no_thread(conn) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(workspace, "checkpoint_in_background", no_thread)
    assert reject(ws, three[:1], reason="soft") == 1
    assert get_image(ws, three[0]).status == "rejected"


def test_cli_reject__the_change_is_in_the_catalog_file_when_the_command_ends(
    ws: Workspace, three: list[int], tmp_path: Path
) -> None:
    """A copy of catalog.sqlite alone (a naive backup) after the command holds the decision."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "curator.cli", "reject", str(ws.root), str(three[0])],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    in_file = _statuses_in_catalog_file(ws, tmp_path)
    assert [in_file[i] for i in three] == ["rejected", "pending", "pending"]
    assert not ws.db_path.with_name(ws.db_path.name + "-wal").exists()
