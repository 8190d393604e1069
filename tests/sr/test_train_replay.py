"""Replay of generic images (``data.replay``): the share of each batch, the streams of sample
numbers, validation on the domain only, and a missing or empty replay folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sr.train import main as train_main
from sr.training.batch_plan import BatchPlanner
from sr.training.config import OptimConfig, TrainConfig, dump_config
from sr.training.loop import Trainer, TrainError
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config

RED = (255, 0, 0)


def _solid_folder(folder: Path, n: int, colour=RED, size=(56, 60)) -> Path:
    """``n`` one-colour PNGs: every pixel of a sample cut from them has that colour."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (size[1], size[0]), colour).save(folder / f"photo{i}.png")
    return folder


def _with_replay(cfg: TrainConfig, folder: Path | None, fraction: float) -> TrainConfig:
    folder_text = None if folder is None else str(folder)
    return replace(cfg, data=replace(cfg.data, replay=folder_text, replay_fraction=fraction))


@pytest.mark.parametrize(
    ("batch", "fraction", "n_replay"),
    [(4, 0.25, 1), (8, 0.25, 2), (8, 0.5, 4), (4, 0.05, 1), (2, 0.9, 1)],
)
def test_replay__each_batch_mixes_domain_and_replay_patches_in_proportion(
    tmp_path, monkeypatch, batch, fraction, n_replay
):
    data = make_image_folder(tmp_path / "data", n=8)
    photos = _solid_folder(tmp_path / "photos", n=3)
    cfg = _with_replay(
        tiny_train_config(max_steps=3, optim=OptimConfig(batch_size=batch, lr=1e-3)),
        photos,
        fraction,
    )
    seen = []
    train_step = Trainer._train_step

    def recording(self, forward, batch_dict):  # the real step, on the real batch
        seen.append({k: v.clone() for k, v in batch_dict.items()})
        return train_step(self, forward, batch_dict)

    monkeypatch.setattr(Trainer, "_train_step", recording)
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    trainer.fit()
    assert len(seen) == 3
    red = torch.tensor([1.0, 0.0, 0.0])
    for step_batch in seen:
        is_replay = step_batch["replay"]
        assert len(is_replay) == batch and int(is_replay.sum()) == n_replay
        # replay samples are cut from the replay photos, domain samples from the domain images
        all_red = (step_batch["gt"] == red).all(dim=2).all(dim=1)
        assert torch.equal(all_red, is_replay)
        assert (step_batch["sample"][is_replay] < 0).all()
        assert (step_batch["sample"][~is_replay] >= 0).all()
    # validation stays on the domain split: no replay photo among the validation crops
    assert trainer.val_hr
    assert not any((hr == red.view(3, 1, 1)).all() for hr in trainer.val_hr)


def test_replay__off_by_default_and_off_at_fraction_zero(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    photos = _solid_folder(tmp_path / "photos", n=2)
    for i, cfg in enumerate([tiny_train_config(), _with_replay(tiny_train_config(), photos, 0.0)]):
        trainer = Trainer(cfg, data, tmp_path / f"run{i}", CPU, show_progress=False)
        assert trainer.replay_images == []
        assert all(not k.replay for s in range(4) for k in trainer.planner.rank_keys(s, 0))


def test_batch_planner__replay_keeps_the_domain_stream_whole_and_processes_disjoint():
    cfg = _with_replay(tiny_train_config(optim=OptimConfig(batch_size=8)), Path("photos"), 0.25)
    one = BatchPlanner(cfg, n_images=5, world_size=1, n_replay_images=3)
    two = BatchPlanner(cfg, n_images=5, world_size=2, n_replay_images=3)
    keys = []
    for step in range(10):
        step_keys = one.rank_keys(step, 0)
        assert [k for r in range(2) for k in two.rank_keys(step, r)] == step_keys
        keys += step_keys
    domain = [k.sample for k in keys if not k.replay]
    replayed = [k for k in keys if k.replay]
    assert domain == list(range(60))  # 6 domain places per step, no sample skipped
    assert [k.sample for k in replayed] == [-1 - m for m in range(20)]
    # each pass over the replay stream shows every replay image once
    for start in range(0, 18, 3):
        assert sorted(k.image for k in replayed[start : start + 3]) == [0, 1, 2]
    # a batch of one is a replay sample on about a share `fraction` of the steps
    single = BatchPlanner(
        _with_replay(tiny_train_config(optim=OptimConfig(batch_size=1)), Path("p"), 0.25),
        n_images=5,
        n_replay_images=3,
    )
    share = sum(single.plan(s).n_replay for s in range(2000)) / 2000
    assert 0.2 < share < 0.3


def test_replay__resume_after_replay_steps_matches_an_uninterrupted_run(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    photos = make_image_folder(tmp_path / "photos", n=3, size=(64, 70))
    cfg = _with_replay(
        tiny_train_config(
            max_steps=6, checkpoint_every=3, keep_last=0, optim=OptimConfig(batch_size=4)
        ),
        photos,
        0.5,
    )
    reference = Trainer(cfg, data, tmp_path / "reference", CPU, show_progress=False)
    reference.fit()
    run = tmp_path / "run"
    Trainer(replace(cfg, max_steps=3), data, run, CPU, show_progress=False).fit()
    resumed = Trainer(cfg, None, run, CPU, resume=True, show_progress=False)
    assert resumed.start == 3 and len(resumed.replay_images) == 3
    resumed.fit()
    for name, value in reference.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=1e-6)


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_sr_train__missing_replay_folder_is_one_line_and_no_run_folder(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=4)
    config = tmp_path / "replay.yaml"
    config.write_text(dump_config(_with_replay(tiny_train_config(), tmp_path / "nowhere", 0.25)))
    run = tmp_path / "run"
    assert train_main(["--data", str(data), "--out", str(run), "--config", str(config)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "data.replay: " in line and "nowhere: no such folder" in line
    assert not run.exists()


def test_replay__folder_without_usable_images_is_a_train_error(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=4)
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(small / "tiny.png")
    cfg = _with_replay(tiny_train_config(), small, 0.25)
    with pytest.raises(TrainError, match=r"data\.replay: .*small: no usable images"):
        Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    assert "tiny.png: skipped" in capsys.readouterr().err


def test_replay__folder_is_saved_absolute_for_resume(tmp_path, monkeypatch):
    data = make_image_folder(tmp_path / "data", n=4)
    _solid_folder(tmp_path / "photos", n=2)
    monkeypatch.chdir(tmp_path)
    cfg = _with_replay(tiny_train_config(max_steps=1), Path("photos"), 0.25)
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    assert trainer.config.data.replay == str(tmp_path / "photos")
    assert "replay: " + str(tmp_path / "photos") in (tmp_path / "run" / "config.yaml").read_text()


def test_replay__builtin_skimage_photos(tmp_path, monkeypatch):
    from sr.training.loop import _load_replay
    from sr.training.skimage_pictures import REPLAY_PICTURES

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base = tiny_train_config()
    config = replace(base, data=replace(base.data, replay="skimage", replay_fraction=0.25))
    images = _load_replay(config)
    assert len(images) == len(REPLAY_PICTURES)
    folder = tmp_path / "cache" / "sr-curation-studio" / "replay-skimage"
    assert sorted(p.stem for p in folder.glob("*.png")) == sorted(REPLAY_PICTURES)


def _start_targets(cfg: TrainConfig, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The start weights' prediction through the paper-literal path: an independent model built
    from the same seed, never trained."""
    from sr.models.liif import LIIF
    from sr.training.step import straightforward_rgb

    torch.manual_seed(cfg.seed)
    start = LIIF(cfg.model).eval()
    with torch.no_grad():
        return straightforward_rgb(start, batch["inp"], batch["coord"], batch["cell"]).clamp(0, 1)


def test_replay_target_start__replay_samples_learn_the_start_prediction(tmp_path, monkeypatch):
    import sr.training.loop as loop

    data = make_image_folder(tmp_path / "data", n=6)
    photos = _solid_folder(tmp_path / "photos", n=2)
    base = _with_replay(tiny_train_config(max_steps=4), photos, 0.5)
    cfg = replace(base, data=replace(base.data, replay_target="start"))
    seen = []
    real_l1 = loop.per_sample_l1

    def recording(pred, gt):
        seen.append(gt.clone())
        return real_l1(pred, gt)

    train_step = Trainer._train_step
    batches = []

    def keep_batch(self, forward, batch_dict):
        batches.append({k: v.clone() for k, v in batch_dict.items()})
        return train_step(self, forward, batch_dict)

    monkeypatch.setattr(loop, "per_sample_l1", recording)
    monkeypatch.setattr(Trainer, "_train_step", keep_batch)
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    trainer.fit()
    assert len(seen) == len(batches) == 4
    red = torch.tensor([1.0, 0.0, 0.0])
    for batch, target in zip(batches, seen, strict=True):
        rows = batch["replay"]
        assert int(rows.sum()) == 2
        # domain samples keep their HR pixels; replay samples get the (untrained) start's output,
        # not the red of their photo
        torch.testing.assert_close(target[~rows], batch["gt"][~rows], rtol=0, atol=0)
        expected = _start_targets(cfg, batch)[rows]
        torch.testing.assert_close(target[rows], expected, rtol=0, atol=1e-5)
        assert not (target[rows] == red).all()
    # the model trained, the teacher did not
    torch.manual_seed(cfg.seed)
    from sr.models.liif import LIIF

    start = LIIF(cfg.model).state_dict()
    for name, value in trainer.teacher.model.state_dict().items():
        assert torch.equal(value, start[name])
    assert any(not torch.equal(v, start[n]) for n, v in trainer.model.state_dict().items())


def test_replay_target_start__resume_matches_an_uninterrupted_run(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    photos = make_image_folder(tmp_path / "photos", n=3, size=(64, 70))
    base = _with_replay(
        tiny_train_config(max_steps=6, checkpoint_every=3, keep_last=0), photos, 0.5
    )
    cfg = replace(base, data=replace(base.data, replay_target="start"))
    reference = Trainer(cfg, data, tmp_path / "reference", CPU, show_progress=False)
    reference.fit()
    run = tmp_path / "run"
    Trainer(replace(cfg, max_steps=3), data, run, CPU, show_progress=False).fit()
    resumed = Trainer(cfg, None, run, CPU, resume=True, show_progress=False)
    assert resumed.config.data.replay_target == "start" and resumed.start == 3
    resumed.fit()  # the teacher is the start again, not the checkpoint being resumed
    for name, value in reference.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=1e-6)


def test_replay_target__bad_value_and_recipe_line(tmp_path):
    from sr.config_io import ConfigError
    from sr.training.config import DataConfig
    from sr.training.logs import recipe_line

    with pytest.raises(ConfigError, match=r"replay_target: expected gt\|start, got 'teacher'"):
        DataConfig(replay_target="teacher")
    base = _with_replay(tiny_train_config(), tmp_path / "photos", 0.25)
    line = recipe_line(replace(base, data=replace(base.data, replay_target="start")), 10, 5, 3, 1)
    assert "(3 images), towards the start's predictions" in line
    assert "towards" not in recipe_line(base, 10, 5, 3, 1)


def test_start_teacher__targets_are_clamped_like_upscaled_pixels_and_domain_rows_kept() -> None:
    from sr.models.liif import LIIF
    from sr.training.replay_teacher import StartTeacher

    torch.manual_seed(0)
    model = LIIF(tiny_train_config().model)
    with torch.no_grad():
        model.imnet.linears[-1].bias.fill_(5.0)  # raw outputs far above 1
    teacher = StartTeacher(model, "fp32")
    batch = {
        "inp": torch.rand(3, 3, 12, 12),
        "coord": torch.rand(3, 32, 2) * 2 - 1,
        "cell": torch.full((3, 32, 2), 2 / 24),
        "gt": torch.rand(3, 32, 3),
        "replay": torch.tensor([False, True, True]),
    }
    relabelled = teacher.relabel(batch)
    assert torch.equal(relabelled["gt"][0], batch["gt"][0])
    assert torch.equal(relabelled["gt"][1:], torch.ones(2, 32, 3))
    assert relabelled["gt"] is not batch["gt"]  # the loader's batch is not written to


def test_replay_target_start__needs_replay() -> None:
    from sr.config_io import ConfigError
    from sr.training.config import DataConfig

    with pytest.raises(ConfigError, match="replay_target: start needs data.replay"):
        DataConfig(replay_target="start")
    with pytest.raises(ConfigError, match="replay_target: start needs data.replay"):
        DataConfig(replay="skimage", replay_fraction=0.0, replay_target="start")
