"""Invariants of the batch planner: epochs, disjoint processes, variable batches, curriculum."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from sr.training.batch_plan import BatchPlanner
from sr.training.config import DataConfig, DualAugConfig, OptimConfig, SamplerConfig, TrainConfig


def _config(**sampler) -> TrainConfig:
    return TrainConfig(
        data=DataConfig(repeat=3),
        optim=OptimConfig(batch_size=16),
        sampler=SamplerConfig(**sampler) if sampler else SamplerConfig(),
    )


def test_planner__every_image_appears_repeat_times_per_epoch():
    planner = BatchPlanner(_config(), n_images=10, world_size=1)
    keys = [k for step in range(6) for k in planner.rank_keys(step, 0)]  # 96 >= 2 epochs of 30
    first_epoch = Counter(k.image for k in keys if k.sample < 30)
    second_epoch = [k.image for k in keys if 30 <= k.sample < 60]
    assert first_epoch == Counter({i: 3 for i in range(10)})
    assert Counter(second_epoch) == first_epoch
    assert second_epoch != [k.image for k in keys if k.sample < 30]  # reshuffled per epoch
    assert [k.sample for k in keys] == list(range(96))


@pytest.mark.parametrize("variable", [False, True])
def test_planner__processes_get_disjoint_slices_of_the_single_process_batch(variable):
    cfg = _config(enabled=variable, batch_multiple=4)
    one = BatchPlanner(cfg, n_images=7, world_size=1)
    four = BatchPlanner(cfg, n_images=7, world_size=4)
    for step in range(25):
        parts = [four.rank_keys(step, r) for r in range(4)]
        assert len({len(p) for p in parts}) == 1  # equal shares
        assert len({k.lr_patch for p in parts for k in p}) == 1  # same patch size everywhere
        samples = [k.sample for p in parts for k in p]
        assert len(samples) == len(set(samples))  # disjoint
        assert [k for p in parts for k in p] == one.rank_keys(step, 0)  # same samples overall


def test_variable_sampler__keeps_pixels_per_step_about_constant_and_uses_every_size():
    cfg = _config(enabled=True, patch_sizes=(32, 40, 48, 56, 64), batch_multiple=2)
    planner = BatchPlanner(cfg, n_images=5)
    sizes = Counter()
    for step in range(300):
        plan = planner.plan(step)
        sizes[plan.lr_patch] += 1
        lr_pixels = plan.per_rank * plan.lr_patch**2
        query_pixels = plan.per_rank * plan.sample_q
        # batch rounded to a multiple of 2: within one sample's worth of 16 x 48^2
        assert abs(lr_pixels - 16 * 48**2) <= plan.lr_patch**2
        assert abs(query_pixels - 16 * 2304) <= plan.sample_q + plan.per_rank
        assert plan.sample_q <= plan.lr_patch**2
    assert set(sizes) == {32, 40, 48, 56, 64} and min(sizes.values()) > 30
    assert max(BatchPlanner(cfg, 5).plan(s).per_rank for s in range(300)) == 36  # 16 * (48/32)^2


def test_variable_sampler__curriculum_widens_sizes_and_scales_monotonically():
    cfg = _config(
        enabled=True,
        patch_sizes=(32, 40, 48, 56, 64),
        curriculum_steps=100,
        curriculum_start_sizes=1,
        curriculum_start_scale_max=2.0,
    )
    planner = BatchPlanner(cfg, n_images=5)
    assert planner.allowed_sizes(0) == (48,)
    assert planner.scale_max(0) == 2.0 and planner.scale_max(50) == 3.0
    assert planner.allowed_sizes(100) == planner.allowed_sizes(500) == (32, 40, 48, 56, 64)
    previous: set[int] = set()
    for step in range(0, 120, 5):
        allowed = set(planner.allowed_sizes(step))
        assert previous <= allowed  # only ever widens
        previous = allowed
        assert planner.plan(step).lr_patch in allowed
        assert all(k.scale_max == planner.scale_max(step) for k in planner.rank_keys(step, 0))
    assert [planner.scale_max(s) for s in (0, 25, 100, 200)] == [2.0, 2.5, 4.0, 4.0]


def test_planner__plans_do_not_depend_on_history_so_resume_sees_the_same_steps():
    cfg = _config(enabled=True, batch_multiple=2)
    walked = BatchPlanner(cfg, n_images=9)
    sequential = [walked.rank_keys(s, 0) for s in range(40)]
    jumped = BatchPlanner(cfg, n_images=9)
    assert [jumped.rank_keys(s, 0) for s in range(37, 40)] == sequential[37:]


def test_planner__heavy_twins_only_after_warmup_and_at_the_set_fraction():
    cfg = replace(
        _config(), dualaug=DualAugConfig(enabled=True, warmup_steps=3, heavy_fraction=0.25)
    )
    planner = BatchPlanner(cfg, n_images=9)
    assert not any(k.heavy for s in range(3) for k in planner.rank_keys(s, 0))
    keys = [k for s in range(3, 103) for k in planner.rank_keys(s, 0)]
    heavy = [k for k in keys if k.heavy]
    basic = {k.sample: k for k in keys if not k.heavy}
    assert 0.2 < len(heavy) / len(basic) < 0.3
    for k in heavy:  # a twin shares its basic sample's number, hence crop, scale and queries
        assert replace(k, heavy=False) == basic[k.sample]
