"""The fine-tuning recipe options: LR schedule with warm-up, weight EMA, frozen encoder, the
choice of ``best.safetensors``, and the recipe line ``sr train`` prints at the start."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import sr.training.loop
from sr.run_layout import checkpoint_dir
from sr.train import main as train_main
from sr.training.checkpoint import list_checkpoints, load_checkpoint
from sr.training.config import OptimConfig, ValConfig, dump_config, load_config
from sr.training.logs import CsvLog
from sr.training.loop import TRAIN_COLUMNS, Trainer
from sr.training.schedule import make_scheduler
from sr.training.validate import validate_images
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config


def _lrs(trainer: Trainer) -> list[float]:
    """Train; the LR of every step (index t: the step after t completed ones) and the one after."""
    lrs = [trainer.optimizer.param_groups[0]["lr"]]
    trainer.fit(on_step=lambda info: lrs.append(info.lr))
    return lrs


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata()


def _drop_checkpoints_after(run: Path, step: int) -> None:
    """As if the run had been killed right after its checkpoint of ``step``."""
    for later in [s for s in list_checkpoints(run) if s > step]:
        for suffix in (".safetensors", ".state.pt"):
            (checkpoint_dir(run) / f"step-{later:07d}{suffix}").unlink()


# --- LR schedule ---------------------------------------------------------------------------


def test_schedule__cosine_with_warmup_follows_the_formula(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    lr, lr_min, warm, total = 1e-3, 1e-4, 3, 10
    optim = OptimConfig(batch_size=2, lr=lr, schedule="cosine", warmup_steps=warm, lr_min=lr_min)
    trainer = Trainer(
        tiny_train_config(max_steps=total, optim=optim), data, tmp_path / "run", CPU, False
    )
    lrs = _lrs(trainer)

    def expected(t: int) -> float:
        if t < warm:
            return lr * (t + 1) / warm
        progress = min(1.0, (t - warm) / (total - warm))
        return lr_min + (lr - lr_min) * 0.5 * (1 + math.cos(math.pi * progress))

    assert len(lrs) == total + 1
    assert lrs == pytest.approx([expected(t) for t in range(total + 1)], rel=1e-12)
    assert lrs[:4] == pytest.approx([lr / 3, 2 * lr / 3, lr, lr])  # ramp, then the peak
    assert lrs[-1] == pytest.approx(lr_min)
    logged = [float(r["lr"]) for r in CsvLog(tmp_path / "run" / "log.csv", TRAIN_COLUMNS).rows()]
    assert logged == pytest.approx(lrs[1:], rel=1e-3)  # log.csv: 3 significant digits


def test_schedule__step_decay_after_a_warmup(tmp_path):
    data = make_image_folder(tmp_path / "data", n=8)  # 6 train images, batch 4: 2 steps/epoch
    optim = OptimConfig(batch_size=4, lr=1e-3, lr_step_epochs=1.5, lr_gamma=0.5, warmup_steps=2)
    trainer = Trainer(tiny_train_config(max_steps=7, optim=optim), data, tmp_path / "r", CPU, False)
    lrs = _lrs(trainer)
    want = [1e-3 * (t + 1) / 2 if t < 2 else 1e-3 * 0.5 ** (t // 3) for t in range(8)]
    assert lrs == pytest.approx(want, rel=1e-12)


def test_schedule__defaults_keep_the_paper_step_lr():
    default = OptimConfig()
    assert (default.schedule, default.warmup_steps, default.lr_min) == ("step", 0, 0.0)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    scheduler = make_scheduler(optimizer, default, 10, steps_per_epoch=5)
    assert isinstance(scheduler, torch.optim.lr_scheduler.StepLR)  # the state format of old runs
    assert scheduler.step_size == 1000


def test_schedule__resume_continues_where_the_checkpoint_stopped(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    optim = OptimConfig(batch_size=2, lr=1e-3, schedule="cosine", warmup_steps=2, lr_min=1e-5)
    cfg = tiny_train_config(max_steps=8, checkpoint_every=3, keep_last=0, optim=optim)
    reference = tmp_path / "reference"
    done = Trainer(cfg, data, reference, CPU, show_progress=False)
    ref_lrs = _lrs(done)

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    _drop_checkpoints_after(run, 3)
    _, state = load_checkpoint(run, 3)
    assert state["scheduler"]["last_epoch"] == 3  # the schedule's position is in the state file
    resumed = Trainer(cfg, None, run, CPU, resume=True, show_progress=False)
    assert resumed.start == 3
    assert _lrs(resumed) == ref_lrs[3:]
    for name, value in done.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=1e-6)
    rows = CsvLog(run / "log.csv", TRAIN_COLUMNS).rows()
    assert [r["lr"] for r in rows] == [
        r["lr"] for r in CsvLog(reference / "log.csv", TRAIN_COLUMNS).rows()
    ]


# --- weight EMA -----------------------------------------------------------------------------


def test_ema__is_the_hand_computed_average_and_what_is_validated_and_saved(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    decay = 0.7
    cfg = tiny_train_config(
        max_steps=4,
        checkpoint_every=4,
        ema_decay=decay,
        optim=OptimConfig(batch_size=2, lr=1e-2),
        val=ValConfig(every=4, scales=(2.0,), crop=24, max_images=1, at_start=False),
    )
    run = tmp_path / "run"
    trainer = Trainer(cfg, data, run, CPU, show_progress=False)
    average = {k: v.double() for k, v in _state(trainer.model).items()}
    raw_steps = []
    trainer.fit(on_step=lambda info: raw_steps.append(_state(trainer.model)))
    assert len(raw_steps) == 4
    for raw in raw_steps:
        average = {k: decay * average[k] + (1 - decay) * raw[k].double() for k in average}
    ema = trainer.ema.model.state_dict()
    raw = trainer.model.state_dict()
    for name in average:
        torch.testing.assert_close(ema[name].double(), average[name], rtol=1e-6, atol=1e-7)
    assert any((ema[k] - raw[k]).abs().max() > 1e-4 for k in raw)  # the average lags behind

    # weight files hold the average; the state file keeps the trained weights for resume
    for name in ("last.safetensors", "best.safetensors", "step-0000004.safetensors"):
        saved = load_file(str(checkpoint_dir(run) / name))
        assert all(torch.equal(saved[k], ema[k]) for k in ema), name
    _, state = load_checkpoint(run, 4)
    assert all(torch.equal(state["model"][k], raw[k]) for k in raw)
    # validation ran on the average, not on the trained weights
    logged = float(CsvLog(run / "val.csv", []).rows()[-1]["psnr_x2"])
    on_average = validate_images(trainer.ema.model, trainer.val_hr, (2.0,))[2.0]
    on_trained = validate_images(trainer.model, trainer.val_hr, (2.0,))[2.0]
    assert logged == pytest.approx(on_average, abs=1e-4)
    assert abs(on_trained - on_average) > 1e-3


@pytest.mark.parametrize("merge", [1.0, 0.5], ids=["ema", "ema+merge"])
def test_ema__resume_reproduces_an_uninterrupted_run(tmp_path, merge):
    data = make_image_folder(tmp_path / "data", n=6)
    cfg = tiny_train_config(
        max_steps=6,
        checkpoint_every=3,
        keep_last=0,
        ema_decay=0.6,
        merge_with_init=merge,
        optim=OptimConfig(batch_size=2, lr=5e-3),
        val=ValConfig(every=2, scales=(2.0,), crop=24, max_images=1, at_start=True),
    )
    reference = tmp_path / "reference"
    done = Trainer(cfg, data, reference, CPU, show_progress=False)
    done.fit()
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    _drop_checkpoints_after(run, 3)
    resumed = Trainer(cfg, None, run, CPU, resume=True, show_progress=False)
    resumed.fit()
    for mine, theirs in ((resumed.model, done.model), (resumed.ema.model, done.ema.model)):
        for name, value in theirs.state_dict().items():
            torch.testing.assert_close(mine.state_dict()[name], value, rtol=0, atol=1e-6)
    for name in ("last.safetensors", "best.safetensors"):
        want = load_file(str(checkpoint_dir(reference) / name))
        got = load_file(str(checkpoint_dir(run) / name))
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-6)
    assert CsvLog(run / "val.csv", []).rows() == CsvLog(reference / "val.csv", []).rows()


# --- merge with the starting weights (WiSE-FT) ----------------------------------------------


@pytest.mark.parametrize("encoder_alpha", [None, 0.8], ids=["one-alpha", "encoder-alpha"])
def test_merge__saved_and_validated_weights_are_start_plus_alpha_times_the_change(
    tmp_path, encoder_alpha
):
    data = make_image_folder(tmp_path / "data", n=6)
    alpha = 0.3
    cfg = tiny_train_config(
        max_steps=4,
        checkpoint_every=4,
        ema_decay=0.5,
        merge_with_init=alpha,
        merge_encoder_with_init=encoder_alpha,
        optim=OptimConfig(batch_size=2, lr=1e-2),
        val=ValConfig(every=4, scales=(2.0,), crop=24, max_images=1, at_start=False),
    )
    run = tmp_path / "run"
    trainer = Trainer(cfg, data, run, CPU, show_progress=False)
    start = _state(trainer.model)
    trainer.fit()
    ema = trainer.ema.model.state_dict()
    # the decoder is LIIF's imnet; everything else is the encoder
    weight = {k: alpha if k.startswith("imnet.") else (encoder_alpha or alpha) for k in ema}
    assert {k for k in ema if k.startswith("imnet.")} and {
        k for k in ema if k.startswith("encoder.")
    }
    expected = {
        k: start[k].double() + weight[k] * (ema[k].double() - start[k].double()) for k in ema
    }
    for name in ("last.safetensors", "best.safetensors", "step-0000004.safetensors"):
        saved = load_file(str(checkpoint_dir(run) / name))
        for key, want in expected.items():
            torch.testing.assert_close(saved[key].double(), want, rtol=1e-6, atol=1e-7)
    # the training weights and the average are kept apart from the merge, for resume
    _, state = load_checkpoint(run, 4)
    assert all(torch.equal(state["model"][k], v) for k, v in trainer.model.state_dict().items())
    assert all(torch.equal(state["ema"][k], v) for k, v in ema.items())
    logged = float(CsvLog(run / "val.csv", []).rows()[-1]["psnr_x2"])
    assert logged == pytest.approx(
        validate_images(trainer.output_model, trainer.val_hr, (2.0,))[2.0], abs=1e-4
    )
    line = "saved weights = start + 0.3 x (trained - start)"
    if encoder_alpha is not None:
        line += ", 0.8 x for the encoder"
    assert line in recipe_text(trainer)


def recipe_text(trainer: Trainer) -> str:
    from sr.training.logs import recipe_line

    return recipe_line(trainer.config, trainer.max_steps, trainer.planner.steps_per_epoch, 0, 0)


def test_merge__alpha_out_of_range_is_a_config_error(tmp_path):
    from sr.config_io import ConfigError

    with pytest.raises(ConfigError, match="merge_with_init"):
        tiny_train_config(merge_with_init=1.5)
    with pytest.raises(ConfigError, match="merge_encoder_with_init"):
        tiny_train_config(merge_encoder_with_init=-0.1)


# --- frozen encoder -------------------------------------------------------------------------


@pytest.mark.parametrize("fast_step", [True, False])
def test_freeze_encoder__encoder_is_bit_identical_while_the_decoder_trains(tmp_path, fast_step):
    data = make_image_folder(tmp_path / "data", n=6)
    cfg = tiny_train_config(
        max_steps=3, freeze_encoder=True, fast_step=fast_step, ema_decay=0.5, checkpoint_every=3
    )
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    before = _state(trainer.model)
    trainer.fit()
    after = trainer.model.state_dict()
    encoder = [k for k in before if k.startswith("encoder.")]
    decoder = [k for k in before if k.startswith("imnet.")]
    assert encoder and decoder
    assert all(torch.equal(after[k], before[k]) for k in encoder)
    assert all(not torch.equal(after[k], before[k]) for k in decoder)
    trained = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    for param in trainer.model.encoder.parameters():
        assert not param.requires_grad and param.grad is None and id(param) not in trained
    assert len(trained) == len(list(trainer.model.imnet.parameters()))
    saved = load_file(str(checkpoint_dir(tmp_path / "run") / "last.safetensors"))  # the EMA
    assert all(torch.equal(saved[k], before[k]) for k in encoder)


# --- best.safetensors -----------------------------------------------------------------------


def test_best__is_the_step_with_the_highest_mean_validation_psnr(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    cfg = tiny_train_config(
        max_steps=5,
        checkpoint_every=1,
        keep_last=0,
        optim=OptimConfig(batch_size=2, lr=3e-2),  # a rate high enough to make PSNR jump around
        val=ValConfig(every=1, scales=(2.0, 3.0), crop=24, max_images=1, at_start=True),
    )
    run = tmp_path / "run"
    Trainer(cfg, data, run, CPU, show_progress=False).fit()
    rows = CsvLog(run / "val.csv", []).rows()
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3, 4, 5]
    for r in rows:  # psnr_mean is the mean over val.scales of the validation split
        mean = (float(r["psnr_x2"]) + float(r["psnr_x3"])) / 2
        assert float(r["psnr_mean"]) == pytest.approx(mean, abs=1e-4)
    top = max(rows, key=lambda r: float(r["psnr_mean"]))  # the first of equal ones
    assert top["step"] != rows[-1]["step"]  # here the PSNR peaks mid-run: best is not just last
    meta = _metadata(checkpoint_dir(run) / "best.safetensors")
    assert (meta["step"], meta["val_metric"]) == (top["step"], "psnr_mean")
    assert meta["val_psnr"] == top["psnr_mean"]
    if int(top["step"]) > 0:
        best = load_file(str(checkpoint_dir(run) / "best.safetensors"))
        weights, _ = load_checkpoint(run, int(top["step"]))
        assert all(torch.equal(best[k], weights[k]) for k in weights)


# Scripted validation PSNRs per step (x2, x3): the mean peaks at step 2, x2 alone at step 3, and
# the last step (the lowest training loss, most likely) is worse than both.
_SCRIPT = {0: (30.0, 28.0), 1: (30.5, 28.2), 2: (31.0, 29.5), 3: (31.4, 28.0), 4: (29.0, 27.0)}


@pytest.mark.parametrize(
    ("select_scale", "best_step", "metric"), [(None, 2, "psnr_mean"), (2.0, 3, "psnr_x2")]
)
def test_best__follows_validation_psnr_of_the_selected_scale(
    tmp_path, monkeypatch, select_scale, best_step, metric
):
    calls = []

    def scripted(model, hr_images, scales):
        x2, x3 = _SCRIPT[len(calls)]
        calls.append(len(hr_images))
        return {2.0: x2, 3.0: x3}

    monkeypatch.setattr(sr.training.loop, "validate_images", scripted)
    data = make_image_folder(tmp_path / "data", n=6)
    val = ValConfig(
        every=1, scales=(2.0, 3.0), crop=24, max_images=1, at_start=True, select_scale=select_scale
    )
    cfg = tiny_train_config(max_steps=4, checkpoint_every=1, keep_last=0, val=val)
    run = tmp_path / "run"
    losses = []
    Trainer(cfg, data, run, CPU, show_progress=False).fit(lambda i: losses.append(i.loss))
    assert calls == [1] * 5  # the validation split only
    meta = _metadata(checkpoint_dir(run) / "best.safetensors")
    assert (int(meta["step"]), meta["val_metric"]) == (best_step, metric)
    best = load_file(str(checkpoint_dir(run) / "best.safetensors"))
    weights, state = load_checkpoint(run, best_step)
    assert all(torch.equal(best[k], weights[k]) for k in weights)
    x2, x3 = _SCRIPT[best_step]
    assert state["best_psnr"] == pytest.approx(x2 if select_scale else (x2 + x3) / 2)


# --- config checks and the recipe line ------------------------------------------------------


def test_load_config__recipe_keys_round_trip(tmp_path):
    cfg = tiny_train_config(
        ema_decay=0.999,
        freeze_encoder=True,
        optim=OptimConfig(schedule="cosine", warmup_steps=20, lr_min=1e-6),
        val=ValConfig(scales=(2.0, 4.0), select_scale=4.0),
    )
    cfg = replace(cfg, data=replace(cfg.data, replay="photos", replay_fraction=0.25))
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def test_sr_train__prints_the_recipe_once_at_the_start(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=5)
    replay = make_image_folder(tmp_path / "photos", n=3)
    cfg = tiny_train_config(
        ema_decay=0.9,
        freeze_encoder=True,
        optim=OptimConfig(batch_size=4, lr=1e-3, schedule="cosine", warmup_steps=1, lr_min=1e-5),
        val=ValConfig(every=1000, scales=(2.0, 3.0), crop=24, max_images=1, select_scale=3.0),
    )
    cfg = replace(cfg, data=replace(cfg.data, replay=str(replay), replay_fraction=0.25))
    config = tmp_path / "recipe.yaml"
    config.write_text(dump_config(cfg))
    args = ["--data", str(data), "--config", str(config), "--max-steps", "2", "--quiet"]
    assert train_main([*args, "--out", str(tmp_path / "run")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "recipe:" in line]
    assert len(lines) == 1
    for fact in (
        "schedule cosine (lr 0.001 -> 1e-05 over 2 steps, warm-up 1 steps)",
        "EMA decay 0.9",
        "encoder frozen",
        "replay 1 of 4 samples per batch (fraction 0.25)",
        "photos (3 images)",
        "best by validation PSNR at x3",
    ):
        assert fact in lines[0], fact

    plain = tmp_path / "plain.yaml"
    plain.write_text(dump_config(tiny_train_config()))
    args = ["--data", str(data), "--config", str(plain), "--max-steps", "1", "--quiet"]
    assert train_main([*args, "--out", str(tmp_path / "run2")]) == 0
    out = capsys.readouterr().out
    assert out.count("recipe:") == 1
    for fact in ("schedule step (lr 0.001, x 0.5", "EMA off", "encoder trained", "replay off"):
        assert fact in out, fact
    assert "best by mean validation PSNR over x2, x3" in out


# --- pull towards the starting weights (decoupled L2-SP) -------------------------------------


def test_init_pull__moves_each_trained_parameter_lr_times_strength_back_to_its_start():
    from sr.models.liif import LIIF
    from sr.training.init_pull import InitPull

    model = tiny_train_config().model
    liif = LIIF(model)
    liif.encoder.requires_grad_(False)
    start = _state(liif)
    pull = InitPull(liif, strength=20.0)
    with torch.no_grad():
        for param in liif.parameters():
            param.add_(torch.randn_like(param))
    moved = _state(liif)
    pull.apply(lr=0.01)  # 20% of the way back
    for name, value in liif.state_dict().items():
        if name.startswith("imnet."):
            want = start[name].double() + 0.8 * (moved[name].double() - start[name].double())
            torch.testing.assert_close(value.double(), want, rtol=1e-6, atol=1e-6)
        else:  # not trained: left alone
            assert torch.equal(value, moved[name])


def test_pull_to_init__full_strength_keeps_the_starting_weights_and_resumes(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    lr = 1e-2
    cfg = tiny_train_config(
        max_steps=4,
        checkpoint_every=2,
        keep_last=0,
        pull_to_init=1 / lr,  # lr * strength = 1: every step is undone
        optim=OptimConfig(batch_size=2, lr=lr),
        val=ValConfig(every=4, scales=(2.0,), crop=24, max_images=1, at_start=False),
    )
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    start = _state(trainer.model)
    trainer.fit()
    assert all(torch.equal(v, start[k]) for k, v in trainer.model.state_dict().items())
    # a weaker pull keeps the weights nearer the start than none, and resume reproduces it
    runs = {}
    for pull in (0.0, 30.0):
        weak = replace(cfg, pull_to_init=pull)
        runs[pull] = Trainer(weak, data, tmp_path / f"run-{pull}", CPU, show_progress=False)
        runs[pull].fit()
    drift = {
        pull: sum(float((v - start[k]).abs().sum()) for k, v in t.model.state_dict().items())
        for pull, t in runs.items()
    }
    assert 0 < drift[30.0] < drift[0.0]
    assert "pull to start 30 x lr per step" in recipe_text(runs[30.0])
    run = tmp_path / "resumed"
    shutil.copytree(tmp_path / "run-30.0", run)
    _drop_checkpoints_after(run, 2)
    resumed = Trainer(replace(cfg, pull_to_init=30.0), None, run, CPU, resume=True,
                      show_progress=False)  # fmt: skip
    resumed.fit()
    for name, value in runs[30.0].model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=1e-6)


def test_pull_to_init__uses_the_lr_of_the_step_it_follows(tmp_path, monkeypatch):
    from sr.training.init_pull import InitPull

    applied = []
    real = InitPull.apply
    monkeypatch.setattr(InitPull, "apply", lambda self, lr: (applied.append(lr), real(self, lr)))
    cfg = tiny_train_config(
        max_steps=4,
        pull_to_init=5.0,
        optim=OptimConfig(batch_size=2, lr=1e-2, warmup_steps=4),  # the LR changes every step
        val=ValConfig(every=4, scales=(2.0,), crop=24, max_images=1, at_start=False),
    )
    data = make_image_folder(tmp_path / "data", n=6)
    lrs = _lrs(Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False))
    assert applied == lrs[:-1] and len(set(applied)) == 4


def test_pull_to_init__negative_is_a_config_error():
    from sr.config_io import ConfigError

    with pytest.raises(ConfigError, match="pull_to_init"):
        tiny_train_config(pull_to_init=-1)
