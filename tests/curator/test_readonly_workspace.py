"""A workspace on read-only media opens for reading: status, list, map PNG, export elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curator.cli import main
from curator.curation import accept
from curator.workspace import Workspace
from tests.faults import read_only


def test_read_only_workspace__reads_and_exports_refuses_changes(
    mapped_ws: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accept(mapped_ws, [1, 2, 3])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with read_only(mapped_ws.root) as ro:
        with pytest.raises(OSError):
            (ro / "probe").write_text("x")  # really read-only
        capsys.readouterr()
        assert main(["status", str(ro), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["total"] == 24
        assert main(["list", str(ro), "--status", "accepted"]) == 0
        assert len(capsys.readouterr().out.strip().splitlines()) == 3
        png = tmp_path / "map.png"
        assert main(["map", str(ro), "--png", str(png), "--thumbnails"]) == 0
        assert png.stat().st_size > 0
        assert main(["export", str(ro), str(tmp_path / "out")]) == 0
        assert len(list((tmp_path / "out").rglob("*.png"))) == 3
        capsys.readouterr()
        for argv in (["reject", str(ro), "4"], ["ingest", str(ro), str(tmp_path / "map.png")]):
            assert main(argv) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "read-only" in err[0], err
    assert main(["status", str(mapped_ws.root)]) == 0  # and still fine where it is writable
