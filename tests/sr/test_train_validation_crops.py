"""Validation crops: the window with the most detail, never a flat one."""

from __future__ import annotations

from dataclasses import replace

import torch
from PIL import Image

from sr.training.loop import Trainer
from sr.training.validate import validation_crops
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config


def _white(h: int, w: int) -> torch.Tensor:
    return torch.full((3, h, w), 255, dtype=torch.uint8)


def test_validation_crops__detail_beats_an_empty_centre_and_flat_images_are_left_out():
    icon = _white(100, 120)
    icon[:, 5:25, 90:115] = torch.randint(
        0, 255, (3, 20, 25), generator=torch.Generator().manual_seed(0)
    )
    checker = ((torch.arange(90)[:, None] + torch.arange(90)[None, :]) % 2 * 255).to(torch.uint8)
    checker = checker.expand(3, 90, 90).contiguous()  # the same detail everywhere
    notes: list[str] = []
    crops = validation_crops(
        {"icon.png": icon, "blank.png": _white(80, 80), "checker.png": checker}, 40, notes.append
    )
    assert notes == ["blank.png: not validated on (one flat colour)"]
    assert len(crops) == 2
    # the icon's top-right window (rows 0-40, columns 80-120) holds all of its detail
    torch.testing.assert_close(crops[0], icon[:, 0:40, 80:120].float() / 255)
    # equal detail everywhere: the centre, as before
    torch.testing.assert_close(crops[1], checker[:, 25:65, 25:65].float() / 255)
    # a crop larger than the image is the whole image
    assert validation_crops({"small": checker[:, :30, :30]}, 40)[0].shape == (3, 30, 30)


def test_trainer__flat_validation_images_are_named_and_not_validated_on(tmp_path, capsys):
    data = make_image_folder(tmp_path / "data", n=8)
    for path in data.iterdir():  # every image one flat colour
        Image.fromarray(_white(56, 60).permute(1, 2, 0).numpy()).save(path)
    cfg = tiny_train_config(max_steps=1)
    cfg = replace(cfg, val=replace(cfg.val, max_images=8))
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    out = capsys.readouterr()
    noted = [line for line in (out.out + out.err).splitlines() if "not validated on" in line]
    assert noted and all(
        line.endswith(".png: not validated on (one flat colour)") for line in noted
    )
    assert trainer.val_hr == []
