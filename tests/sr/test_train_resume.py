"""Resume after SIGKILL, or from the checkpoint before a damaged one, reaches the same weights
as a run that was never interrupted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sr.models.liif import LIIF
from sr.train import main as train_main
from sr.training.checkpoint import (
    STATE_KEYS,
    CheckpointError,
    list_checkpoints,
    newest_loadable,
    save_checkpoint,
)
from sr.training.config import (
    DualAugConfig,
    OptimConfig,
    SamplerConfig,
    ValConfig,
    dump_config,
)
from sr.training.logs import CsvLog
from sr.training.loop import TRAIN_COLUMNS, Trainer
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config

REPO = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("train_kill_helper.py")


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _train_then_sigkill(config: Path, data: Path, run: Path, at_step: int) -> None:
    """Train ``run`` in a new process that SIGKILLs itself at ``at_step``."""
    killed = subprocess.run(
        [sys.executable, str(HELPER), str(config), str(data), str(run), str(at_step)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr


def _resume_in_a_new_process(run: Path) -> None:
    """``sr train --resume RUN`` to the end, in a new process."""
    resumed = subprocess.run(
        [sys.executable, "-m", "sr.train", "--resume", str(run), "--quiet"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert resumed.returncode == 0, resumed.stderr


def test_resume__after_sigkill_matches_uninterrupted_run(tmp_path):
    data = make_image_folder(tmp_path / "data", n=8)
    cfg = tiny_train_config(
        max_steps=9,
        checkpoint_every=3,
        keep_last=5,
        # exercise every piece of resumable state: variable batches, DualAug statistics, val/best
        sampler=SamplerConfig(
            enabled=True, patch_sizes=(8, 12, 14), curriculum_steps=6, batch_multiple=2
        ),
        dualaug=DualAugConfig(enabled=True, warmup_steps=2, heavy_fraction=0.5, lam=0.5),
        val=ValConfig(every=2, scales=(2.0,), crop=24, max_images=1, at_start=False),
    )
    config = tmp_path / "tiny.yaml"
    config.write_text(dump_config(cfg))

    reference = tmp_path / "reference"
    Trainer(cfg, data, reference, CPU, show_progress=False).fit()

    run = tmp_path / "run"
    _train_then_sigkill(config, data, run, at_step=5)
    assert list_checkpoints(run) == [3]  # died between checkpoints: steps 4-5 are lost
    assert max(int(r["step"]) for r in CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()) == 5

    _resume_in_a_new_process(run)
    assert list_checkpoints(run) == [3, 6, 9]
    want = load_file(str(reference / "checkpoints" / "last.safetensors"))
    got = load_file(str(run / "checkpoints" / "last.safetensors"))
    assert want.keys() == got.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=1e-6, msg=name)
    # the logs hold each step once, with the same losses as the uninterrupted run
    rows = CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()
    ref_rows = CsvLog(reference / "log.csv", TRAIN_COLUMNS).rows()
    assert [r["step"] for r in rows] == [str(s) for s in range(1, 10)]
    assert [float(r["loss"]) for r in rows] == [float(r["loss"]) for r in ref_rows]
    assert [r["rejected_fraction"] for r in rows] == [r["rejected_fraction"] for r in ref_rows]
    # weights really changed during training (else the comparison would prove nothing)
    first = load_file(str(run / "checkpoints" / "step-0000003.safetensors"))
    assert any(not torch.equal(first[k], got[k]) for k in got)


def test_resume__fine_tune_recipe_after_sigkill_matches_uninterrupted_run(tmp_path):
    """Cosine schedule with warm-up, weight EMA, frozen encoder and replay, killed and resumed."""
    data = make_image_folder(tmp_path / "data", n=6)
    photos = make_image_folder(tmp_path / "photos", n=3, size=(64, 70))
    cfg = tiny_train_config(
        max_steps=7,
        checkpoint_every=3,
        keep_last=0,
        ema_decay=0.8,
        freeze_encoder=True,
        optim=OptimConfig(batch_size=4, lr=5e-3, schedule="cosine", warmup_steps=2, lr_min=1e-4),
        val=ValConfig(every=2, scales=(2.0,), crop=24, max_images=1, at_start=True),
    )
    cfg = replace(cfg, data=replace(cfg.data, replay=str(photos), replay_fraction=0.25))
    config = tmp_path / "recipe.yaml"
    config.write_text(dump_config(cfg))
    reference = tmp_path / "reference"
    Trainer(cfg, data, reference, CPU, show_progress=False).fit()

    run = tmp_path / "run"
    _train_then_sigkill(config, data, run, at_step=5)
    assert list_checkpoints(run) == [3]
    _resume_in_a_new_process(run)
    for name in ("last.safetensors", "best.safetensors", "step-0000006.safetensors"):
        want = load_file(str(reference / "checkpoints" / name))
        got = load_file(str(run / "checkpoints" / name))
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-6, msg=name + key)
    want_state = torch.load(reference / "checkpoints" / "step-0000007.state.pt", weights_only=True)
    got_state = torch.load(run / "checkpoints" / "step-0000007.state.pt", weights_only=True)
    for key, value in want_state["model"].items():  # the trained (not averaged) weights
        torch.testing.assert_close(got_state["model"][key], value, rtol=0, atol=1e-6)
    rows = CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()
    ref_rows = CsvLog(reference / "log.csv", TRAIN_COLUMNS).rows()
    assert [(r["lr"], float(r["loss"])) for r in rows] == [
        (r["lr"], float(r["loss"])) for r in ref_rows
    ]


def _damage(path: Path, how: str) -> None:
    """Cut ``path`` to half, to nothing, or overwrite it with bytes of no known format."""
    data = path.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"x" * 300}
    path.write_bytes(damaged[how])


def test_resume__skips_a_truncated_newest_checkpoint_and_matches_uninterrupted_run(
    tmp_path, capsys
):
    data = make_image_folder(tmp_path / "data", n=8)
    cfg = tiny_train_config(max_steps=9, checkpoint_every=3, keep_last=5)
    reference = tmp_path / "reference"
    done = Trainer(cfg, data, reference, CPU, show_progress=False)
    done.fit()
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    for name in ("step-0000009.safetensors", "step-0000009.state.pt"):  # cut short by a full disk
        _damage(run / "checkpoints" / name, "truncated")
    capsys.readouterr()

    resumed = Trainer(cfg, None, run, CPU, resume=True, show_progress=False)
    notes = capsys.readouterr().err.splitlines()
    assert resumed.start == 6  # the last complete checkpoint
    assert len(notes) == 1 and notes[0].startswith("note: ") and "step-0000009" in notes[0]
    assert "resuming from step 6" in notes[0]
    resumed.fit()
    for name, value in done.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=1e-6)
    assert list_checkpoints(run) == [3, 6, 9]
    rewritten = load_file(str(run / "checkpoints" / "step-0000009.safetensors"))
    assert rewritten.keys() == done.model.state_dict().keys()
    rows = CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()
    ref_rows = CsvLog(reference / "log.csv", TRAIN_COLUMNS).rows()
    assert [r["step"] for r in rows] == [str(s) for s in range(1, 10)]
    assert [float(r["loss"]) for r in rows] == [float(r["loss"]) for r in ref_rows]


def _saved_run(run: Path, steps: list[int]) -> LIIF:
    """A run folder with bare checkpoints of a tiny model at ``steps`` (no training)."""
    model = LIIF(tiny_train_config().model)
    state = {key: 0 for key in STATE_KEYS}
    for step in steps:
        save_checkpoint(run, step, model, {**state, "best_psnr": float(step)}, keep_last=0)
    return model


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage"])
@pytest.mark.parametrize("suffix", [".safetensors", ".state.pt"])
def test_newest_loadable__skips_damaged_files_with_one_note_each(tmp_path, suffix, how):
    run = tmp_path / "run"
    _saved_run(run, [1, 2, 3])
    _damage(run / "checkpoints" / f"step-0000003{suffix}", how)
    _damage(run / "checkpoints" / f"step-0000002{suffix}", how)
    notes: list[str] = []
    step, weights, state = newest_loadable(run, note=notes.append)
    assert (step, state["best_psnr"]) == (1, 1.0) and weights
    assert len(notes) == 2 and all("\n" not in line for line in notes)
    assert f"step-0000003{suffix}" in notes[0] and f"step-0000002{suffix}" in notes[1]


def test_newest_loadable__none_loadable_is_one_error_naming_the_files(tmp_path):
    run = tmp_path / "run"
    _saved_run(run, [1, 2])
    for step in (1, 2):
        _damage(run / "checkpoints" / f"step-000000{step}.state.pt", "empty")
    notes: list[str] = []
    with pytest.raises(CheckpointError, match="no checkpoint can be loaded") as caught:
        newest_loadable(run, note=notes.append)
    assert notes == [] and "\n" not in str(caught.value)
    assert "step-0000001.state.pt" in str(caught.value) and "step-0000002" in str(caught.value)
    assert newest_loadable(tmp_path / "fresh", note=notes.append) is None


def test_sr_train__resume_with_no_loadable_checkpoint_prints_one_error(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=5)
    run = tmp_path / "run"
    Trainer(tiny_train_config(max_steps=2, checkpoint_every=1), data, run, CPU, False).fit()
    for path in (run / "checkpoints").glob("step-*.safetensors"):
        _damage(path, "truncated")
    capsys.readouterr()
    assert train_main(["--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "no checkpoint can be" in err[0]
