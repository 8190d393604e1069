"""Which samples each process trains on at each step: fixed or variable-batch multi-scale.

Samples are numbered along one stream: epoch e is a seeded permutation of the train images
repeated ``repeat`` times, and sample number n is the n-th entry of the concatenated epochs. A
step takes the next ``global batch`` numbers; process r of R takes its own contiguous slice, so
processes see disjoint samples and R processes with batch b see exactly what one process with
batch R*b sees.

The variable-batch sampler (after arXiv 2309.04502, adapted to SR) draws one LR patch side p
per step (the same in every process) and sets the global batch to about b * (p0 / p)^2 (rounded
to a multiple of ``batch_multiple``) and the query
count to q * (p / p0)^2, so LR pixels and query pixels per step stay about constant. An optional
curriculum starts from the sizes nearest p0 and a small maximum scale and widens both linearly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from sr.training.config import TrainConfig


@dataclass(frozen=True)
class PatchKey:
    """Everything needed to build one sample; ``heavy`` marks a DualAug heavy twin."""

    image: int
    sample: int
    lr_patch: int
    sample_q: int
    scale_min: float
    scale_max: float
    heavy: bool = False


@dataclass(frozen=True)
class StepPlan:
    """The shape of one step: per-process batch of basic samples, patch side, query count."""

    step: int
    first_sample: int
    lr_patch: int
    per_rank: int
    sample_q: int
    scale_max: float


def unit_hash(*parts: object) -> float:
    """A stable number in [0, 1) for ``parts``."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class BatchPlanner:
    """Step plans and per-process sample keys for a run (deterministic in the seed)."""

    def __init__(self, config: TrainConfig, n_images: int, world_size: int = 1) -> None:
        if n_images < 1:
            raise ValueError("no training images")
        batch = config.optim.batch_size
        if batch % world_size:
            raise ValueError(f"batch size {batch} is not divisible by {world_size} processes")
        self.config = config
        self.n_images = n_images
        self.world_size = world_size
        multiple = config.sampler.batch_multiple
        if config.sampler.enabled and multiple % world_size:
            raise ValueError(
                f"sampler.batch_multiple {multiple} is not divisible by {world_size} processes"
            )
        self.epoch_len = n_images * config.data.repeat
        self._first = [0]  # first sample number of each planned step
        self._perms: dict[int, torch.Tensor] = {}

    @property
    def steps_per_epoch(self) -> int:
        """Steps of the base batch size per epoch (what the LR schedule counts in)."""
        return max(1, -(-self.epoch_len // self.config.optim.batch_size))

    def progress(self, step: int) -> float:
        """Curriculum progress in [0, 1]."""
        steps = self.config.sampler.curriculum_steps
        return 1.0 if steps <= 0 else min(1.0, step / steps)

    def allowed_sizes(self, step: int) -> tuple[int, ...]:
        """LR patch sides allowed at ``step`` (sorted)."""
        cfg = self.config
        if not cfg.sampler.enabled:
            return (cfg.data.lr_patch,)
        p0 = cfg.data.lr_patch
        by_distance = sorted(cfg.sampler.patch_sizes, key=lambda p: (abs(p - p0), p))
        start = max(1, min(cfg.sampler.curriculum_start_sizes, len(by_distance)))
        n = start + round(self.progress(step) * (len(by_distance) - start))
        return tuple(sorted(by_distance[:n]))

    def scale_max(self, step: int) -> float:
        """Largest scale drawn at ``step``."""
        cfg = self.config
        if not cfg.sampler.enabled or cfg.sampler.curriculum_steps <= 0:
            return cfg.data.scale_max
        start = max(
            cfg.data.scale_min, min(cfg.sampler.curriculum_start_scale_max, cfg.data.scale_max)
        )
        return start + self.progress(step) * (cfg.data.scale_max - start)

    def _shape(self, step: int) -> tuple[int, int, int]:
        """(patch side, per-rank batch, queries) of ``step``."""
        cfg = self.config
        p0, q0 = cfg.data.lr_patch, cfg.data.sample_q
        sizes = self.allowed_sizes(step)
        if len(sizes) == 1:
            p = sizes[0]
        else:
            p = sizes[int(unit_hash(cfg.seed, "patch", step) * len(sizes))]
        batch = cfg.optim.batch_size
        if cfg.sampler.enabled:
            # The global batch depends on the config only, never on the process count, so any
            # number of processes sees the same samples.
            m = cfg.sampler.batch_multiple
            batch = max(m, m * round(batch * (p0 / p) ** 2 / m))
        per_rank = batch // self.world_size
        queries = min(p * p, max(1, round(q0 * (p / p0) ** 2)))
        return p, per_rank, queries

    def plan(self, step: int) -> StepPlan:
        """The plan of ``step`` (earlier steps are planned on the way, once)."""
        while len(self._first) <= step:
            s = len(self._first) - 1
            self._first.append(self._first[s] + self._shape(s)[1] * self.world_size)
        p, per_rank, queries = self._shape(step)
        return StepPlan(step, self._first[step], p, per_rank, queries, self.scale_max(step))

    def epoch_of(self, sample: int) -> int:
        """The epoch a sample number falls in."""
        return sample // self.epoch_len

    def image_of(self, sample: int) -> int:
        """Which train image sample number ``sample`` crops from."""
        epoch, pos = divmod(sample, self.epoch_len)
        if epoch not in self._perms:
            gen = torch.Generator().manual_seed(
                int(unit_hash(self.config.seed, "epoch", epoch) * 2**62)
            )
            self._perms = {epoch: torch.randperm(self.epoch_len, generator=gen)}
        return int(self._perms[epoch][pos]) % self.n_images

    def has_heavy_twin(self, step: int, sample: int) -> bool:
        """Whether DualAug gives ``sample`` a heavy twin (only after the warm-up)."""
        aug = self.config.dualaug
        if not aug.enabled or step < aug.warmup_steps:
            return False
        return unit_hash(self.config.seed, "heavy", sample) < aug.heavy_fraction

    def rank_keys(self, step: int, rank: int) -> list[PatchKey]:
        """Sample keys of process ``rank`` at ``step``: basic samples, then their heavy twins."""
        plan = self.plan(step)
        data = self.config.data
        start = plan.first_sample + rank * plan.per_rank
        basic = [
            PatchKey(
                self.image_of(n), n, plan.lr_patch, plan.sample_q, data.scale_min, plan.scale_max
            )
            for n in range(start, start + plan.per_rank)
        ]
        heavy = [
            PatchKey(k.image, k.sample, k.lr_patch, k.sample_q, k.scale_min, k.scale_max, True)
            for k in basic
            if self.has_heavy_twin(step, k.sample)
        ]
        return basic + heavy


class StepBatches:
    """Iterable of per-step key lists for one process, from ``start`` to ``stop`` (DataLoader)."""

    def __init__(self, planner: BatchPlanner, rank: int, start: int, stop: int) -> None:
        self.planner, self.rank, self.start, self.stop = planner, rank, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[PatchKey]]:
        for step in range(self.start, self.stop):
            yield self.planner.rank_keys(step, self.rank)
