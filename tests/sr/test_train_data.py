"""Training data discovery: export folders, plain folders, skipped images, config files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sr.config_io import ConfigError
from sr.training.config import TrainConfig, dump_config, load_config
from sr.training.image_folders import load_images, split_images


def _png(path: Path, w: int, h: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def test_split_images__plain_folder_split_is_deterministic_disjoint_and_stable(tmp_path):
    for i in range(60):
        _png(tmp_path / f"img{i:02d}.png", 4, 4, i)
    first = split_images(tmp_path, val_fraction=0.2)
    assert first == split_images(tmp_path, val_fraction=0.2) and first.source == "folder"
    assert 4 <= len(first.val) <= 20 and not set(first.train) & set(first.val)
    assert sorted(first.train + first.val) == sorted(tmp_path.glob("*.png"))
    for i in range(5):
        _png(tmp_path / f"new{i}.png", 4, 4, 100 + i)
    later = split_images(tmp_path, val_fraction=0.2)
    # adding images never moves an existing one between train and val
    assert set(first.train) <= set(later.train) and set(first.val) <= set(later.val)


def test_split_images__export_folder_uses_its_metadata_split(tmp_path):
    for split, names in (("train", ["a.png", "b.png"]), ("validation", ["c.png"])):
        for n in names:
            _png(tmp_path / split / n, 8, 8)
        rows = [json.dumps({"file_name": n, "source": "original"}) for n in names]
        (tmp_path / split / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    _png(tmp_path / "train" / "unlisted.png", 8, 8)
    (tmp_path / ".curator-export.json").write_text("{}")
    split = split_images(tmp_path, val_fraction=0.5)
    assert split.source == "export"
    assert split.train == [tmp_path / "train" / "a.png", tmp_path / "train" / "b.png"]
    assert split.val == [tmp_path / "validation" / "c.png"]


def test_load_images__skips_small_and_broken_files_with_one_line_each(tmp_path):
    good = _png(tmp_path / "good.png", 200, 196)
    small = _png(tmp_path / "small.png", 300, 150)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    lines: list[str] = []
    images = load_images([good, small, broken], min_side=192, warn=lines.append)
    assert len(images) == 1 and images[0].shape == (3, 196, 200)
    assert len(lines) == 2
    assert str(small) in lines[0] and "300x150" in lines[0] and "192" in lines[0]
    assert str(broken) in lines[1] and "cannot read" in lines[1]


def test_config__defaults_are_the_paper_recipe_and_yaml_round_trips(tmp_path):
    cfg = TrainConfig()
    assert (cfg.data.lr_patch, cfg.data.scale_min, cfg.data.scale_max) == (48, 1.0, 4.0)
    assert (cfg.data.sample_q, cfg.optim.batch_size, cfg.optim.lr) == (2304, 16, 1e-4)
    assert (cfg.optim.lr_step_epochs, cfg.optim.lr_gamma, cfg.data.repeat) == (200, 0.5, 20)
    assert cfg.min_image_side() == 192
    path = tmp_path / "c.yaml"
    path.write_text("model: {n_resblocks: 2, hidden_list: [8, 8]}\noptim: {batch_size: 4}\n")
    loaded = load_config(path)
    assert loaded.model.hidden_list == (8, 8) and loaded.optim.batch_size == 4
    path.write_text(dump_config(loaded))
    assert load_config(path) == loaded


def test_config__unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim: {batch: 4}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*optim\.: unknown key\(s\) batch"):
        load_config(path)


def test_read_image__sixteen_bit_gray_and_alpha_become_eight_bit_rgb(tmp_path):
    import cv2

    from sr.training.image_folders import read_image

    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, (20, 24, 3), dtype=np.uint16)
    # 16-bit colour PNG (OpenCV writes BGR); Pillow alone would keep only the high byte
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])
    rounded = np.round(rgb16.astype(np.float64) / 65535 * 255).astype(np.uint8)
    assert torch.equal(read_image(tmp_path / "c16.png"), torch.from_numpy(rounded).permute(2, 0, 1))
    # a dark 16-bit gray image stays dark: codes are scaled by 255/65535 whatever their maximum
    cv2.imwrite(str(tmp_path / "g16.png"), np.full((10, 12), 200, dtype=np.uint16))
    assert read_image(tmp_path / "g16.png").unique().tolist() == [round(200 * 255 / 65535)]
    rgb8 = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    # alpha is left out, colour kept
    rgba = np.dstack([rgb8, np.full((20, 24), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert torch.equal(read_image(tmp_path / "a.png"), torch.from_numpy(rgb8).permute(2, 0, 1))


def test_spread__evenly_spaced_from_the_first_and_all_when_few() -> None:
    from sr.training.image_folders import spread

    files = [Path(f"{c}-{i}.png") for c in "abcd" for i in range(5)]  # grouped by prefix
    picked = spread(files, 4)
    assert [p.name[0] for p in picked] == ["a", "b", "c", "d"]  # one per group, not four a's
    assert spread(files, 1) == files[:1] and spread(files, 0) == []
    assert spread(files, 50) == files
