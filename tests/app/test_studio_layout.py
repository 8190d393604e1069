"""The studio finds a workspace's exports, runs and job records from its root, no catalog."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from curator.studio import jobs
from curator.studio.state import run_folders
from curator.studio.train_page import exports
from curator.workspace_layout import WorkspaceLayout
from sr.run_layout import best_checkpoint, checkpoint_dir, last_checkpoint


def test_run_folders__runs_with_best_or_last_only(tmp_path: Path) -> None:
    runs = WorkspaceLayout(tmp_path).runs_dir
    last_checkpoint(runs / "b-last").parent.mkdir(parents=True)
    last_checkpoint(runs / "b-last").write_bytes(b"")
    best_checkpoint(runs / "a-best").parent.mkdir(parents=True)
    best_checkpoint(runs / "a-best").write_bytes(b"")
    checkpoint_dir(runs / "c-started").mkdir(parents=True)  # no weights yet
    (runs / "d-empty").mkdir()
    assert run_folders(tmp_path) == [runs / "a-best", runs / "b-last"]
    assert run_folders(tmp_path / "missing") == [] and run_folders(None) == []


def test_exports__found_in_the_layouts_exports_dir(tmp_path: Path) -> None:
    export = WorkspaceLayout(tmp_path).exports_dir / "20260101-000000"
    (export / "train").mkdir(parents=True)
    (export / "train" / "metadata.jsonl").write_text("")
    assert exports(tmp_path) == [export]


def test_start_job__recorded_in_the_layouts_studio_dir(tmp_path: Path) -> None:
    job = jobs.start_job(tmp_path, tmp_path / "run", [sys.executable, "-c", "pass"])
    assert Path(job.log).parent == WorkspaceLayout(tmp_path).studio_dir
    assert jobs.current_job(tmp_path) == job
    deadline = time.monotonic() + 20
    while job.state() == "running":
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
