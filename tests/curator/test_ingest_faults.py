"""Ingest under faults: a full disk stops the batch with one line; an input read once."""

from __future__ import annotations

import builtins
import errno
from pathlib import Path

import pytest

import curator.ingest as ingest
from curator.catalog import list_images
from curator.cli import main
from curator.ingest import ingest_paths
from curator.workspace import Workspace
from tests.curator.helpers import NAMES, natural, save


def _inputs(folder: Path, n: int) -> list[Path]:
    paths = [folder / f"{k}.png" for k in range(n)]
    for k, path in enumerate(paths):
        save(path, natural(NAMES[k], 48))
    return paths


def _store_files(ws: Workspace) -> list[Path]:
    return [p for p in ws.store_dir.rglob("*") if p.is_file()]


def test_ingest__disk_full_stops_with_one_line_and_keeps_what_was_stored(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    paths = _inputs(tmp_path / "in", 3)
    real = ingest.adopt_staged
    calls = []

    def fill_disk(staged: Path, target: Path) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(staged, target)

    monkeypatch.setattr(ingest, "adopt_staged", fill_disk)
    assert main(["ingest", str(ws.root), *map(str, paths)]) == 3
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert err == [f"error: {paths[1]}: disk full (no space left on device)"]
    records = list_images(ws)
    assert [r.original_name for r in records] == [str(paths[0])]  # the first is kept
    assert sorted(p.relative_to(ws.store_dir).as_posix() for p in _store_files(ws)) == [
        records[0].store_path
    ]  # no temp file, no half-written second image
    conn = ws.connect()
    events = conn.execute("SELECT count(*) FROM events WHERE action = 'ingest'").fetchone()[0]
    conn.close()
    assert events == 1


def test_ingest__failed_fsync_of_a_staged_file_keeps_nothing(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import sr.atomic

    (path,) = _inputs(tmp_path / "in", 1)

    def full(fd: int) -> None:  # a disk that reports ENOSPC only when the data is flushed
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sr.atomic.os, "fsync", full)
    assert main(["ingest", str(ws.root), str(path)]) == 3
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert err == [f"error: {path}: disk full (no space left on device)"]
    assert list_images(ws) == [] and _store_files(ws) == []  # not adopted unsynced, no temp


def test_ingest__reads_each_input_once(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (path,) = _inputs(tmp_path / "in", 1)
    opened: list[str] = []
    inside_read = []
    real_read, real_open = Path.read_bytes, builtins.open

    def counting_read(self: Path) -> bytes:
        if self == path:
            opened.append("read_bytes")
        inside_read.append(True)
        try:
            return real_read(self)
        finally:
            inside_read.pop()

    def counting_open(file, *args, **kwargs):
        if not inside_read and isinstance(file, str | Path) and Path(file) == path:
            opened.append("open")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", counting_read)
    monkeypatch.setattr(builtins, "open", counting_open)
    report = ingest_paths(ws, [path])
    monkeypatch.undo()
    assert len(report.added) == 1 and opened == ["read_bytes"]  # not probed/decoded again
    (record,) = list_images(ws)
    assert (ws.store_dir / record.store_path).read_bytes() == path.read_bytes()
