"""Run folder layout: the names ``sr.run_layout`` gives are the files ``sr train`` writes."""

from __future__ import annotations

from pathlib import Path

from sr.run_layout import (
    CONFIG_FILE,
    RUN_FILE,
    TRAIN_LOG,
    VAL_LOG,
    best_checkpoint,
    checkpoint_dir,
    has_checkpoints,
    last_checkpoint,
    run_of_checkpoint,
    trained_checkpoint,
)
from sr.train import main as train_main
from sr.training.config import dump_config
from sr.weights import resolve_weights
from tests.sr.train_helpers import make_image_folder, tiny_train_config


def test_run_layout__names_the_files_a_real_run_writes(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", n=6)
    config = tmp_path / "tiny.yaml"
    config.write_text(dump_config(tiny_train_config()))
    run = tmp_path / "run"
    argv = ["--data", str(data), "--out", str(run), "--config", str(config), "--max-steps", "2"]
    assert train_main([*argv, "--quiet"]) == 0
    for name in (RUN_FILE, CONFIG_FILE, TRAIN_LOG, VAL_LOG):
        assert (run / name).is_file(), name
    assert best_checkpoint(run).is_file() and last_checkpoint(run).is_file()
    assert has_checkpoints(run)
    assert trained_checkpoint(run) == best_checkpoint(run) == resolve_weights(run)
    assert run_of_checkpoint(last_checkpoint(run)) == run
    # run folders already on disk keep working only while the names stay these
    assert best_checkpoint(run) == run / "checkpoints" / "best.safetensors"
    assert last_checkpoint(run) == run / "checkpoints" / "last.safetensors"
    assert (RUN_FILE, CONFIG_FILE, TRAIN_LOG, VAL_LOG) == (
        "run.json", "config.yaml", "log.csv", "val.csv",
    )  # fmt: skip


def test_trained_checkpoint__best_else_last_else_none(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert trained_checkpoint(run) is None and not has_checkpoints(run)
    checkpoint_dir(run).mkdir(parents=True)
    assert not has_checkpoints(run)
    (checkpoint_dir(run) / ".incoming-x.tmp").write_bytes(b"")  # killed mid-write: resumable
    assert has_checkpoints(run) and trained_checkpoint(run) is None
    last_checkpoint(run).write_bytes(b"")
    assert trained_checkpoint(run) == last_checkpoint(run) == resolve_weights(run)
    best_checkpoint(run).write_bytes(b"")
    assert trained_checkpoint(run) == best_checkpoint(run) == resolve_weights(run)


def test_run_of_checkpoint__only_files_in_checkpoints(tmp_path: Path) -> None:
    assert run_of_checkpoint(tmp_path / "run" / "checkpoints" / "x.safetensors") == tmp_path / "run"
    assert run_of_checkpoint(tmp_path / "run" / "x.safetensors") is None


def test_read_metrics__joins_logs_on_step_and_skips_what_is_half_written(tmp_path: Path) -> None:
    from sr.run_layout import read_metrics

    assert read_metrics(tmp_path) == []
    # a resumed run logged step 20 twice (the last row wins); the last row is being written
    (tmp_path / "log.csv").write_text("step,loss\n10,0.5\n20,0.4\n20,0.3\n3")
    (tmp_path / "val.csv").write_text("step,psnr_x2\n0,30.0\n20,31.5\n")
    rows = read_metrics(tmp_path)
    assert rows == [
        {"step": 0, "psnr_x2": 30.0},
        {"step": 10, "loss": 0.5},
        {"step": 20, "loss": 0.3, "psnr_x2": 31.5},
    ]
