"""kill -9 during ingest, then re-run: every file once, no orphan store files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from curator.catalog import list_images
from curator.ingest import ingest_paths
from curator.workspace import Workspace
from tests.curator.helpers import NAMES, natural, save

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import curator.ingest as ingest
    from curator.workspace import open_workspace

    real = ingest.adopt_staged
    calls = []

    def write_then_die(staged, target):
        real(staged, target)
        calls.append(target)
        if len(calls) == 3:  # file 3 is in the store, its row is not committed yet
            os.kill(os.getpid(), signal.SIGKILL)

    ingest.adopt_staged = write_then_die
    ingest.ingest_paths(open_workspace(sys.argv[1]), [sys.argv[2]])
    """
)


def _store_files(ws: Workspace) -> set[str]:
    return {p.relative_to(ws.store_dir).as_posix() for p in ws.store_dir.rglob("*") if p.is_file()}


def test_ingest_paths__resumes_after_kill_9(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in"
    for i, name in enumerate(NAMES):
        save(src / f"{i}.png", natural(name, 48))
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(ws.root), str(src)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr.decode()
    assert len(list_images(ws)) == 2  # two committed
    assert len(_store_files(ws)) == 3  # plus the orphan of the third
    # a stray temp file as left by a kill while a file is staged
    (ws.store_dir / "ab").mkdir(exist_ok=True)
    (ws.store_dir / "ab" / ".incoming-xyz").write_bytes(b"partial")

    report = ingest_paths(ws, [src])
    assert len(report.added) == len(NAMES) - 2 and len(report.duplicates) == 2
    records = list_images(ws)
    assert len(records) == len(NAMES)
    assert len({r.content_hash for r in records}) == len(NAMES)
    assert _store_files(ws) == {r.store_path for r in records}  # no orphans, no temp files
