"""Atomic writes: a temp file beside the target, published (fsynced, usual mode, renamed) or
removed; ``atomic_path`` and ingest's staged files share these two steps."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import sr.atomic
from sr.atomic import TEMP_PREFIX, atomic_path, default_mode, publish, temp_file


def test_temp_file__removed_unless_published(tmp_path: Path) -> None:
    with temp_file(tmp_path / "new", suffix=".png") as tmp:
        assert tmp.parent == tmp_path / "new" and tmp.name.startswith(TEMP_PREFIX)
        tmp.write_bytes(b"dropped")
    assert list((tmp_path / "new").iterdir()) == []
    with temp_file(tmp_path) as tmp:
        tmp.write_bytes(b"kept")
        publish(tmp, tmp_path / "kept.bin")
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["kept.bin"]


def test_publish__fsyncs_before_the_rename_and_gives_the_usual_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((tmp_path / "out.bin").exists())  # False: not renamed yet
        real_fsync(fd)

    monkeypatch.setattr(sr.atomic.os, "fsync", fsync)
    with atomic_path(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"data")
    assert synced == [False]
    assert stat.S_IMODE((tmp_path / "out.bin").stat().st_mode) == default_mode()
