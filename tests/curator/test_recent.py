"""The recent-workspaces list: newest first, no duplicates, only folders that are workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator import recent
from curator.recent import RECENT_LIMIT, recent_file, recent_workspaces, remember_workspace
from curator.workspace import init_workspace

ENCODER = "efficientnet-lite0"


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_recent__newest_first_without_duplicates(tmp_path: Path) -> None:
    a = init_workspace(tmp_path / "a", encoder=ENCODER).root
    b = init_workspace(tmp_path / "b", encoder=ENCODER).root
    remember_workspace(a)
    remember_workspace(b)
    remember_workspace(a)
    assert recent_workspaces() == [a.resolve(), b.resolve()]
    assert recent_file().is_file()


def test_recent__drops_folders_that_are_gone_and_keeps_the_limit(tmp_path: Path) -> None:
    roots = [init_workspace(tmp_path / f"w{i}", encoder=ENCODER).root for i in range(12)]
    for root in roots:
        remember_workspace(root)
    assert len(recent_workspaces()) == RECENT_LIMIT
    assert recent_workspaces()[0] == roots[-1].resolve()
    (roots[-1] / "curator.yaml").unlink()  # no longer a workspace
    assert roots[-1].resolve() not in recent_workspaces()


def test_recent__an_unreadable_list_is_an_empty_list(tmp_path: Path) -> None:
    recent_file().parent.mkdir(parents=True)
    recent_file().write_text("{not json")
    assert recent_workspaces() == []
    root = init_workspace(tmp_path / "w", encoder=ENCODER).root
    remember_workspace(root)  # replaces the broken file
    assert recent_workspaces() == [root.resolve()]


def test_recent__a_failed_write_is_not_an_error(tmp_path: Path, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError("read-only home")

    monkeypatch.setattr(recent, "write_atomic", refuse)
    remember_workspace(tmp_path)  # no exception
    assert recent_workspaces() == []
