"""Resume after SIGKILL reaches the same weights as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from sr.training.checkpoint import list_checkpoints
from sr.training.config import DualAugConfig, SamplerConfig, ValConfig, dump_config
from sr.training.logs import CsvLog
from sr.training.loop import TRAIN_COLUMNS, Trainer
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config

REPO = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("train_kill_helper.py")


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


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
    killed = subprocess.run(
        [sys.executable, str(HELPER), str(config), str(data), str(run), "5"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert list_checkpoints(run) == [3]  # died between checkpoints: steps 4-5 are lost
    assert max(int(r["step"]) for r in CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()) == 5

    resumed = subprocess.run(
        [sys.executable, "-m", "sr.train", "--resume", str(run), "--quiet"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert resumed.returncode == 0, resumed.stderr
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
