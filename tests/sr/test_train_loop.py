"""The training loop end to end on a tiny model: outputs, schedule, checkpoints, CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from sr.cli import main as sr_main
from sr.models.liif import LIIFConfig
from sr.training.checkpoint import list_checkpoints
from sr.training.config import OptimConfig, ValConfig, dump_config
from sr.training.logs import CsvLog
from sr.training.loop import TRAIN_COLUMNS, Trainer, TrainError
from sr.weights import load_model
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config


def test_trainer__writes_logs_curves_checkpoints_and_a_loadable_run(tmp_path):
    data = make_image_folder(tmp_path / "data", n=8)
    cfg = tiny_train_config(
        max_steps=6,
        checkpoint_every=2,
        keep_last=2,
        val=ValConfig(every=3, scales=(2.0, 3.0, 6.0), crop=24, max_images=2, at_start=True),
    )
    run = tmp_path / "run"
    trainer = Trainer(cfg, data, run, CPU, show_progress=False)
    trainer.fit()
    assert list_checkpoints(run) == [4, 6]  # keep_last = 2 pruned step 2
    assert not (run / "checkpoints" / "step-0000002.safetensors").exists()
    for name in ("last.safetensors", "best.safetensors"):
        assert (run / "checkpoints" / name).exists()
    assert (run / "curves.png").stat().st_size > 1000
    rows = CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    val = CsvLog(run / "val.csv", []).rows()
    assert [int(r["step"]) for r in val] == [0, 3, 6]
    assert all(float(r["psnr_x6"]) > 5 for r in val)
    # the run folder works wherever weights are accepted; last equals the trained model
    loaded = load_model(run / "checkpoints" / "last.safetensors")
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value.cpu())
    assert load_model(run).config == cfg.model
    assert (run / "config.yaml").read_text() == dump_config(cfg)


def test_trainer__lr_halves_every_lr_step_epochs(tmp_path):
    data = make_image_folder(tmp_path / "data", n=8)  # 6 train images -> 2 steps per epoch
    cfg = tiny_train_config(
        max_steps=7, optim=OptimConfig(batch_size=4, lr=1e-3, lr_step_epochs=1.5)
    )
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    assert trainer.planner.steps_per_epoch == 2
    trainer.fit()
    lrs = [float(r["lr"]) for r in CsvLog(tmp_path / "run" / "log.csv", TRAIN_COLUMNS).rows()]
    # lr logged after each step; halved after every 3 steps (1.5 epochs of 2 steps)
    assert lrs == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4])


def test_trainer__loss_goes_down_on_two_images(tmp_path):
    data = make_image_folder(tmp_path / "data", n=2)
    cfg = tiny_train_config(max_steps=40, data=replace(tiny_train_config().data, augment=False))
    losses = []
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    trainer.fit(on_step=lambda info: losses.append(info.loss))
    assert sum(losses[-5:]) / 5 < 0.85 * sum(losses[:5]) / 5


def test_trainer__refuses_to_overwrite_a_run_and_official_init_needs_default_model(tmp_path):
    data = make_image_folder(tmp_path / "data", n=4)
    Trainer(tiny_train_config(max_steps=1), data, tmp_path / "run", CPU, False).fit()
    with pytest.raises(TrainError, match="--resume"):
        Trainer(tiny_train_config(max_steps=1), data, tmp_path / "run", CPU, False)
    with pytest.raises(TrainError, match="default LIIF-EDSR"):
        Trainer(tiny_train_config(init="official"), data, tmp_path / "run2", CPU, False)


def test_sr_train_cli__runs_and_reports_bad_arguments(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=5)
    config = tmp_path / "tiny.yaml"
    config.write_text(dump_config(tiny_train_config()))
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(run), "--config", str(config)]
    assert sr_main([*args, "--max-steps", "2", "--quiet"]) == 0
    assert list_checkpoints(run) == [2]
    assert sr_main(["train", "--data", str(data)]) == 2
    assert "either --out" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lr_steps: 3}\n")
    assert (
        sr_main(["train", "--data", str(data), "--out", str(tmp_path / "r2"), "--config", str(bad)])
        == 2
    )
    assert "lr_steps" in capsys.readouterr().err


def test_trainer__loader_workers_do_not_change_the_result(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    weights = []
    for workers in (0, 2):
        cfg = tiny_train_config(max_steps=2)
        cfg = replace(cfg, data=replace(cfg.data, num_workers=workers))
        trainer = Trainer(cfg, data, tmp_path / f"run{workers}", CPU, show_progress=False)
        trainer.fit()
        weights.append(trainer.model.state_dict())
    for name, value in weights[0].items():
        assert torch.equal(weights[1][name], value), name


def test_trainer__resume_without_any_checkpoint_starts_over_with_clean_logs(tmp_path):
    data = make_image_folder(tmp_path / "data", n=5)
    cfg = tiny_train_config(max_steps=2, val=replace(tiny_train_config().val, at_start=True))
    run = tmp_path / "run"
    Trainer(cfg, data, run, CPU, show_progress=False).fit()
    for path in (run / "checkpoints").iterdir():  # as if killed before the first checkpoint
        path.unlink()
    Trainer(cfg, None, run, CPU, resume=True, show_progress=False).fit()
    assert [r["step"] for r in CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()] == ["1", "2"]
    assert [r["step"] for r in CsvLog(run / "val.csv", []).rows()] == ["0", "2"]


def test_sr_train__fine_tunes_official_weights_and_sr_eval_reads_the_run(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=3, size=(196, 200))
    cfg = tiny_train_config(
        model=LIIFConfig(),
        init="official",
        data=replace(tiny_train_config().data, lr_patch=48, sample_q=64),
        optim=OptimConfig(batch_size=1, lr=1e-4),
    )
    config = tmp_path / "finetune.yaml"
    config.write_text(dump_config(cfg))
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(run), "--config", str(config)]
    assert sr_main([*args, "--max-steps", "1", "--quiet"]) == 0
    official, tuned = load_model("official").state_dict(), load_model(run).state_dict()
    changed = [k for k in official if not torch.equal(official[k], tuned[k])]
    assert changed and max((official[k] - tuned[k]).abs().max() for k in changed) < 1e-3
    set_dir = make_image_folder(tmp_path / "set" / "HR", n=1, size=(40, 44)).parent
    capsys.readouterr()
    assert sr_main(["eval", str(set_dir), "--scale", "2", "--weights", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1
