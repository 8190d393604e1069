"""``sr train`` on bad input: garbage options and config values, odd or broken files, a full
disk. Each ends before any work, or skips the one file, with one line and never a traceback."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import sr.weights
from sr.config_io import ConfigError
from sr.train import main as train_main
from sr.training.checkpoint import list_checkpoints, load_checkpoint
from sr.training.config import ValConfig, dump_config, load_config
from sr.training.image_folders import split_images
from sr.training.loop import Trainer
from tests.faults import read_only
from tests.sr.train_helpers import make_image_folder, tiny_train_config


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _tiny_config_file(folder: Path, **overrides) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(dump_config(tiny_train_config(**overrides)))
    return path


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-steps", "0"),
        ("--max-steps", "-1"),
        ("--max-steps", "2.5"),
        ("--batch-size", "0"),
        ("--batch-size", "-4"),
        ("--seed", "-1"),
        ("--seed", str(2**64)),
        ("--seed", "x"),
    ],
)
def test_sr_train__garbage_numeric_option_ends_before_any_work(tmp_path, capsys, flag, value):
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        train_main(["--data", str(tmp_path / "no-data"), "--out", str(run), flag, value])
    assert caught.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"sr train: error: argument {flag}: ")
    assert "Traceback" not in "\n".join(err) and not run.exists()


@pytest.mark.parametrize(
    ("yaml_text", "key", "problem"),
    [
        ("max_steps: 0", "max_steps", "≥ 1"),
        ("seed: -3", "seed", "≥ 0"),
        ("checkpoint_every: 0", "checkpoint_every", "≥ 1"),
        ("optim: {batch_size: 0}", "optim.batch_size", "≥ 1"),
        ("optim: {lr: 0}", "optim.lr", "> 0"),
        ("optim: {lr: .nan}", "optim.lr", "finite"),
        ("optim: {lr: -.inf}", "optim.lr", "finite"),
        ("optim: {lr: fast}", "optim.lr", "expected a number"),
        ("optim: {betas: [0.9, 1.0]}", "optim.betas", "< 1"),
        ("optim: {epochs: 0}", "optim.epochs", "≥ 1"),
        ("data: {scale_min: 0.5}", "data.scale_min", "≥ 1"),
        ("data: {scale_min: 3, scale_max: 2}", "data.scale_max", "scale_min"),
        ("data: {lr_patch: 0}", "data.lr_patch", "≥ 1"),
        ("data: {sample_q: 5000}", "data.sample_q", "2304"),
        ("data: {val_fraction: 1}", "data.val_fraction", "< 1"),
        ("sampler: {patch_sizes: [0, 8]}", "sampler.patch_sizes", "≥ 1"),
        ("dualaug: {heavy_fraction: 2}", "dualaug.heavy_fraction", "≤ 1"),
        ("val: {scales: []}", "val.scales", "empty"),
        ("val: {every: 0}", "val.every", "≥ 1"),
        ("model: {n_feats: 0}", "model.n_feats", "≥ 1"),
        # the fine-tuning recipe's keys (docs/training.md)
        ("optim: {schedule: linear}", "optim.schedule", "step|cosine"),
        ("optim: {warmup_steps: -1}", "optim.warmup_steps", "≥ 0"),
        ("optim: {warmup_steps: 2.5}", "optim.warmup_steps", "expected int"),
        ("optim: {lr: 1e-4, lr_min: 1e-3}", "optim.lr_min", "≤ lr (0.0001)"),
        ("optim: {lr_min: -1}", "optim.lr_min", "≥ 0"),
        ("ema_decay: 1", "ema_decay", "< 1"),
        ("ema_decay: -0.5", "ema_decay", "≥ 0"),
        ("freeze_encoder: yes please", "freeze_encoder", "expected bool"),
        ("data: {replay_fraction: 0.25}", "data.replay_fraction", "data.replay"),
        ("data: {replay: r, replay_fraction: 1}", "data.replay_fraction", "< 1"),
        ("val: {select_scale: 5}", "val.select_scale", "one of val.scales"),
    ],
)
def test_load_config__bad_number_names_the_key(tmp_path, yaml_text, key, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"bad.yaml: {key}: " in message and problem in message and "\n" not in message


def test_load_config__takes_exponent_numbers_yaml_reads_as_text(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("optim: {lr: 1e-4, lr_gamma: 5E-1}\n")  # YAML 1.1: strings, meant as numbers
    assert (load_config(path).optim.lr, load_config(path).optim.lr_gamma) == (1e-4, 0.5)


def test_sr_train__bad_config_value_is_one_line_and_no_run_folder(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {batch_size: -4}\n")
    run = tmp_path / "run"
    assert train_main(["--data", str(data), "--out", str(run), "--config", str(bad)]) == 2
    assert "optim.batch_size: must be ≥ 1" in _one_error_line(capsys.readouterr().err)
    assert not run.exists()


def test_split_images__non_utf8_name_is_split_by_its_bytes(tmp_path):
    data = make_image_folder(tmp_path / "data", n=4)
    odd = Path(os.fsdecode(bytes(data) + b"/bad\xff.png"))
    shutil.copy(data / "img00.png", odd)
    split = split_images(data, val_fraction=0.25)
    assert odd in split.train + split.val
    assert split == split_images(data, val_fraction=0.25)


def test_sr_train__odd_names_and_broken_images_are_skipped_with_one_note_each(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=5)
    shutil.copy(data / "img00.png", Path(os.fsdecode(bytes(data) + b"/bad\xff.png")))
    Path(os.fsdecode(bytes(data) + b"/broken\xfe.png")).write_bytes(b"\x89PNG not really")
    (data / "empty.png").write_bytes(b"")
    config = _tiny_config_file(tmp_path, max_steps=2)
    run = tmp_path / "run"
    args = ["--data", str(data), "--out", str(run), "--config", str(config), "--quiet"]
    assert train_main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("note: ") for line in err), err
    assert any("broken\\xfe.png: skipped (cannot read image" in line for line in err)
    assert any("empty.png: skipped (cannot read image" in line for line in err)
    assert list_checkpoints(run) == [2]


def test_sr_train__missing_or_empty_data_folder_is_one_line_and_no_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert train_main(["--data", str(tmp_path / "missing"), "--out", str(run)]) == 2
    assert "missing: no such folder" in _one_error_line(capsys.readouterr().err)
    assert not run.exists()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    config = _tiny_config_file(tmp_path)
    args = ["--data", str(tmp_path / "empty"), "--out", str(run), "--config", str(config)]
    assert train_main(args) == 2
    assert "no usable training images" in _one_error_line(capsys.readouterr().err)


def test_sr_train__out_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=2)
    (tmp_path / "a-file").write_text("")
    config = _tiny_config_file(tmp_path)
    run = tmp_path / "a-file" / "run"
    assert train_main(["--data", str(data), "--out", str(run), "--config", str(config)]) == 2
    assert "a part of the path is not a folder" in _one_error_line(capsys.readouterr().err)


def test_sr_train__read_only_out_folder_is_one_line(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=2)
    (tmp_path / "locked").mkdir()
    config = _tiny_config_file(tmp_path)
    with read_only(tmp_path / "locked") as locked:
        args = ["--data", str(data), "--out", str(locked / "run"), "--config", str(config)]
        assert train_main(args) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert "read-only file system" in line or "permission denied" in line


def test_sr_train__unknown_device_is_one_line(tmp_path, capsys):
    args = ["--data", str(tmp_path), "--out", str(tmp_path / "run"), "--device", "gpu0"]
    assert train_main(args) == 2
    assert "--device gpu0: not a torch device" in _one_error_line(capsys.readouterr().err)


def test_sr_train__ctrl_c_is_one_line_pointing_at_resume(tmp_path, capsys, monkeypatch):
    def interrupted(self, on_step=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", interrupted)
    data = make_image_folder(tmp_path / "data", n=2)
    config = _tiny_config_file(tmp_path)
    run = tmp_path / "run"
    try:
        code = train_main(["--data", str(data), "--out", str(run), "--config", str(config)])
    except KeyboardInterrupt:  # would stop the whole test session
        pytest.fail("Ctrl-C escaped sr train")
    assert code == 130
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and f"sr train --resume {run}" in lines[0]


@pytest.mark.parametrize("error", [MemoryError, torch.cuda.OutOfMemoryError])
def test_sr_train__out_of_memory_is_one_line_naming_batch_size(
    tmp_path, capsys, monkeypatch, error
):
    def out_of_memory(self, on_step=None):
        raise error("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "fit", out_of_memory)
    data = make_image_folder(tmp_path / "data", n=2)
    config = _tiny_config_file(tmp_path)
    run = tmp_path / "run"
    assert train_main(["--data", str(data), "--out", str(run), "--config", str(config)]) == 3
    assert "--batch-size" in _one_error_line(capsys.readouterr().err)


def _disk_full_after_some_bytes(path) -> None:
    Path(path).write_bytes(b"half a file")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failing", ["weights", "state"])
def test_sr_train__disk_full_at_a_checkpoint_keeps_the_previous_one(
    tmp_path, capsys, monkeypatch, failing
):
    data = make_image_folder(tmp_path / "data", n=5)
    no_val = ValConfig(every=1000, scales=(2.0,), crop=24, max_images=0, at_start=False)
    config = _tiny_config_file(tmp_path, max_steps=2, checkpoint_every=2, val=no_val)
    run = tmp_path / "run"
    args = ["--data", str(data), "--out", str(run), "--config", str(config), "--quiet"]
    assert train_main(args) == 0
    before = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    if failing == "weights":
        monkeypatch.setattr(
            sr.weights, "save_file", lambda tensors, path, **_: _disk_full_after_some_bytes(path)
        )
    else:
        monkeypatch.setattr(torch, "save", lambda obj, path: _disk_full_after_some_bytes(path))
    capsys.readouterr()

    assert train_main(["--resume", str(run), "--max-steps", "4", "--quiet"]) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert "checkpoints" in line and line.endswith("disk full (no space left on device)")
    after = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    assert after == before  # no temp file, no step 4 without its state, step 2 untouched
    assert not [p for p in run.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]
    monkeypatch.undo()
    weights, state = load_checkpoint(run, 2)
    last = load_file(str(run / "checkpoints" / "last.safetensors"))
    assert state["step"] == 2 and all(torch.equal(last[k], v) for k, v in weights.items())


def test_sr_train__out_folder_with_files_is_refused_and_untouched(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=2)
    config = _tiny_config_file(tmp_path)
    out = tmp_path / "project"
    out.mkdir()
    (out / "config.yaml").write_text("mine")
    argv = ["--data", str(data), "--out", str(out), "--config", str(config)]
    assert train_main(argv) == 2
    assert "exists and is not empty" in _one_error_line(capsys.readouterr().err)
    assert [p.name for p in out.iterdir()] == ["config.yaml"]
    assert (out / "config.yaml").read_text() == "mine"
