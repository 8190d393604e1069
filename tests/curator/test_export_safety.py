"""Export never destroys data: the workspace, a file, or an old export (moved to a backup)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from curator.cli import main
from curator.curation import accept
from curator.errors import CuratorError
from curator.export import export_dataset
from curator.workspace import Workspace, wait_for_checkpoints


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".writer.lock"
    }


@pytest.fixture
def accepted_ws(ws: Workspace, ingest_set, tmp_path: Path) -> Workspace:
    ids = ingest_set(ws, tmp_path / "in", 3)
    accept(ws, ids)
    wait_for_checkpoints()  # its checkpoint is a write of its own, not export's
    return ws


@pytest.mark.parametrize(
    "target",
    ["{ws}", "{ws}/store", "{ws}/store/ab", "{parent}", "{ws}/map"],
    ids=["the-workspace", "its-store", "inside-store", "its-parent", "its-map"],
)
def test_export_dataset__refuses_the_workspace(
    accepted_ws: Workspace, target: str, capsys: pytest.CaptureFixture
) -> None:
    ws = accepted_ws
    (ws.root.parent / "sibling.txt").write_text("keep me")
    before = _snapshot(ws.root.parent)
    out = target.format(ws=ws.root, parent=ws.root.parent)
    code = main(["export", str(ws.root), out, "--overwrite"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "refusing" in err[0]
    assert _snapshot(ws.root.parent) == before  # nothing moved, deleted or added


def test_export_dataset__refuses_a_link_to_the_workspace(
    accepted_ws: Workspace, tmp_path: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(accepted_ws.root)
    with pytest.raises(CuratorError, match="refusing"):
        export_dataset(accepted_ws, link, overwrite=True)
    assert (accepted_ws.root / "catalog.sqlite").is_file()


def test_export_dataset__refuses_a_file(accepted_ws: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(CuratorError, match="not a folder"):
        export_dataset(accepted_ws, target, overwrite=True)
    assert target.read_text() == "keep me"


def test_export_dataset__overwrite_keeps_a_dated_backup(
    accepted_ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    report = export_dataset(accepted_ws, out, overwrite=True)
    assert report.backup is not None and report.backup.parent == tmp_path
    assert report.backup.name.startswith("out.backup-")
    assert (report.backup / "mine.txt").read_text() == "keep me"
    assert (out / "README.md").is_file() and not (out / "mine.txt").exists()
    second = export_dataset(accepted_ws, out, overwrite=True)  # same second: a distinct name
    assert second.backup != report.backup and (second.backup / "README.md").is_file()
    assert (report.backup / "mine.txt").read_text() == "keep me"


def test_export_dataset__inside_the_exports_folder(accepted_ws: Workspace) -> None:
    out = accepted_ws.exports_dir / "first"
    report = export_dataset(accepted_ws, out)
    assert report.counts["train"] + report.counts["validation"] == 3


def test_export_dataset__folder_mode_follows_umask(accepted_ws: Workspace, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        export_dataset(accepted_ws, tmp_path / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_export_dataset__records_the_catalog_state(accepted_ws: Workspace, tmp_path: Path) -> None:
    import hashlib
    import json

    from curator.catalog import list_images
    from curator.curation import history, reject

    ids = sorted(r.id for r in list_images(accepted_ws))
    reject(accepted_ws, [ids[0]], reason="watermark")
    export_dataset(accepted_ws, tmp_path / "out")
    lineage = json.loads((tmp_path / "out" / "lineage.json").read_text())
    accepted = sorted(ids[1:])
    assert lineage["last_event_id"] == history(accepted_ws, limit=1)[0].id
    assert lineage["accepted"] == 2
    digest = hashlib.sha256(",".join(map(str, accepted)).encode()).hexdigest()
    assert lineage["accepted_ids_sha256"] == digest
    assert lineage["rejection_reasons"] == {"watermark": 1}
    assert [r["id"] for r in lineage["rejected"]] == [ids[0]]
    assert lineage["workspace"] == str(accepted_ws.root.resolve())


def test_map_png__refuses_workspace_files_and_other_formats(
    accepted_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    catalog = accepted_ws.root / "catalog.sqlite"
    before = _snapshot(accepted_ws.root)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"keep me")
    for target in (catalog, photo, accepted_ws.root / "store" / "x.png"):
        assert main(["map", str(accepted_ws.root), "--png", str(target)]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert _snapshot(accepted_ws.root) == before and photo.read_bytes() == b"keep me"


def test_cli__huge_ids_are_one_line(accepted_ws: Workspace, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["accept", str(accepted_ws.root), str(10**20)])
    assert done.value.code == 2 and "must be" in capsys.readouterr().err
