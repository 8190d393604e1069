"""DualAug heavy branch: the ops, and out-of-distribution rejection by loss statistics."""

from __future__ import annotations

import pytest
import torch

from sr.training.augment import (
    HEAVY_OPS,
    LossStatistics,
    heavy_weights,
    rotate,
)
from sr.training.batch_plan import PatchKey
from sr.training.config import DualAugConfig
from sr.training.image_folders import read_image
from sr.training.logs import CsvLog
from sr.training.loop import TRAIN_COLUMNS, Trainer
from sr.training.patch_dataset import PatchDataset, collate
from sr.training.step import TrainForward, per_sample_l1
from tests.sr.helpers import official_model
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config


def _warm_statistics(gen: torch.Generator, mean=0.1, std=0.01, steps=60) -> LossStatistics:
    stats = LossStatistics(decay=0.95)
    for _ in range(steps):
        basic = mean + std * torch.randn(16, generator=gen)
        stats.update(float(basic.mean()), float(basic.var(unbiased=False)))
    return stats


def test_rejection__triggers_on_outliers_and_not_on_in_distribution_heavy_samples():
    gen = torch.Generator().manual_seed(0)
    stats = _warm_statistics(gen)
    threshold = stats.threshold(lam=3.0)
    assert 0.12 < threshold < 0.14  # mean + 3 std of N(0.1, 0.01)
    in_dist = 0.1 + 0.01 * torch.randn(2000, generator=gen)
    heavy = torch.ones(2000, dtype=torch.bool)
    twin = torch.zeros(2000, dtype=torch.long)
    _, rejected = heavy_weights(in_dist, heavy, twin, threshold, "drop")
    assert rejected / 2000 < 0.01
    outliers = torch.tensor([0.25, 0.4, 1.0])
    weights, rejected = heavy_weights(outliers, heavy[:3], twin[:3], threshold, "drop")
    assert rejected == 3 and weights.sum() == 0


def test_heavy_weights__drop_zeroes_rejected_and_replace_counts_the_basic_twin_again():
    losses = torch.tensor([0.1, 0.1, 0.9, 0.1])  # basic, basic, heavy twin of 0, heavy twin of 1
    heavy = torch.tensor([False, False, True, True])
    twin = torch.tensor([-1, -1, 0, 1])
    drop, n = heavy_weights(losses, heavy, twin, 0.5, "drop")
    assert n == 1 and drop.tolist() == [1, 1, 0, 1]
    replace, _ = heavy_weights(losses, heavy, twin, 0.5, "replace")
    assert replace.tolist() == [2, 1, 0, 1]
    basic_only, n = heavy_weights(
        torch.tensor([5.0, 5.0]), torch.tensor([False, False]), twin[:2], 0.5, "drop"
    )
    assert n == 0 and basic_only.tolist() == [1, 1]  # basic samples are never rejected


def test_rejection__model_losses_flag_noise_twins_but_not_mild_twins(tmp_path):
    folder = make_image_folder(tmp_path, n=4, size=(64, 64))
    images = [read_image(p) for p in sorted(folder.glob("*.png"))]
    model = official_model()  # a model that knows natural images, as after warm-up
    forward = TrainForward(model)

    def losses_for(heavy_op):
        dataset = PatchDataset(images, seed=0, augment=True, heavy=heavy_op)
        keys = [PatchKey(i % 4, i, 12, 32, 1.0, 4.0, h) for i in range(24) for h in (False, True)]
        batch = collate([dataset[k] for k in keys])
        with torch.no_grad():
            losses = per_sample_l1(
                forward(batch["inp"], batch["coord"], batch["cell"]), batch["gt"]
            )
        return losses, batch

    def noise(hr, gen):  # a constructed outlier: the target is replaced by pure noise
        return torch.rand(hr.shape, generator=gen)

    def mild(hr, gen):  # an in-distribution heavy op: a tiny brightness change
        return hr * 0.98

    for op, expect_all in ((noise, True), (mild, False)):
        losses, batch = losses_for(op)
        basic = losses[~batch["heavy"]]
        stats = LossStatistics(0.9)
        stats.update(float(basic.mean()), float(basic.var(unbiased=False)))
        _, rejected = heavy_weights(
            losses, batch["heavy"], batch["twin"], stats.threshold(3.0), "drop"
        )
        n_heavy = int(batch["heavy"].sum())
        if expect_all:
            assert rejected >= 0.9 * n_heavy
        else:
            assert rejected <= 0.1 * n_heavy


@pytest.mark.parametrize("op", HEAVY_OPS, ids=[op.__name__ for op in HEAVY_OPS])
def test_heavy_ops__keep_shape_and_range_change_the_image_and_are_seeded(op):
    ys, xs = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    checks = ((ys // 4 + xs // 4) % 2).float()  # edges, so blur and JPEG change something
    hr = torch.stack([checks * 0.8 + 0.1, ys / 39, xs / 39])
    a = op(hr, torch.Generator().manual_seed(1), 1.0).clamp(0, 1)
    b = op(hr, torch.Generator().manual_seed(1), 1.0).clamp(0, 1)
    assert a.shape == hr.shape and torch.equal(a, b)
    assert (a - hr).abs().mean() > 1e-3


def test_rotate__crops_only_valid_pixels():
    ones = torch.ones(3, 64, 64)
    for seed in range(5):
        out = rotate(ones, torch.Generator().manual_seed(seed), 1.0)
        assert out.min() > 0.97  # no padding from outside the rotated image


def test_trainer__logs_the_rejected_fraction(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    fractions = {}
    for name, lam in (("never", 1e6), ("always", -1e6)):
        cfg = tiny_train_config(
            max_steps=3, dualaug=DualAugConfig(enabled=True, warmup_steps=1, lam=lam)
        )
        Trainer(cfg, data, tmp_path / name, CPU, show_progress=False).fit()
        rows = CsvLog(tmp_path / name / "log.csv", TRAIN_COLUMNS).rows()
        fractions[name] = [float(r["rejected_fraction"]) for r in rows]
    assert fractions["never"] == [0.0, 0.0, 0.0]
    assert fractions["always"] == [0.0, 1.0, 1.0]  # step 1 is warm-up: no heavy samples yet
