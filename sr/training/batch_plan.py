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

Replay (``data.replay_fraction`` > 0): the last ``n_replay`` places of every step's global batch
are filled from a second image list (generic photos, so a fine-tune keeps its general skill).
Replay samples follow their own stream, numbered -1, -2, ... (sample numbers stay unique within
a batch), over seeded permutations of the replay images; the domain stream advances by the
remaining places only, so every domain image is still seen once per epoch pass.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from sr.training.config import TrainConfig


@dataclass(frozen=True)
class PatchKey:
    """Everything needed to build one sample; ``heavy`` marks a DualAug heavy twin, ``replay``
    a sample of the replay images (``image`` indexes those, ``sample`` is negative)."""

    image: int
    sample: int
    lr_patch: int
    sample_q: int
    scale_min: float
    scale_max: float
    heavy: bool = False
    replay: bool = False


@dataclass(frozen=True)
class StepPlan:
    """The shape of one step: per-process batch of basic samples, patch side, query count;
    ``n_replay`` of the global batch's places (the last ones) are replay samples."""

    step: int
    first_sample: int
    lr_patch: int
    per_rank: int
    sample_q: int
    scale_max: float
    n_replay: int = 0
    first_replay: int = 0  # replay stream position of the step's first replay sample


def unit_hash(*parts: object) -> float:
    """A stable number in [0, 1) for ``parts``."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class BatchPlanner:
    """Step plans and per-process sample keys for a run (deterministic in the seed)."""

    def __init__(
        self, config: TrainConfig, n_images: int, world_size: int = 1, n_replay_images: int = 0
    ) -> None:
        if n_images < 1:
            raise ValueError("no training images")
        batch = config.optim.batch_size
        if batch % world_size:
            raise ValueError(f"batch size {batch} is not divisible by {world_size} processes")
        self.config = config
        self.n_images = n_images
        self.n_replay_images = n_replay_images
        self.world_size = world_size
        multiple = config.sampler.batch_multiple
        if config.sampler.enabled and multiple % world_size:
            raise ValueError(
                f"sampler.batch_multiple {multiple} is not divisible by {world_size} processes"
            )
        self.epoch_len = n_images * config.data.repeat
        # first domain and replay stream positions of each planned step
        self._first: list[tuple[int, int]] = [(0, 0)]
        self._perms: dict[str, tuple[int, torch.Tensor]] = {}  # stream -> (epoch, permutation)

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

    def replay_count(self, step: int, batch: int) -> int:
        """Replay samples in a global batch of ``batch`` at ``step``.

        round(batch * replay_fraction), kept within [1, batch - 1] for batches of two or more;
        a batch of one is a replay sample on a share ``replay_fraction`` of the steps.
        """
        fraction = self.config.data.replay_fraction
        if self.n_replay_images == 0 or fraction <= 0:
            return 0
        if batch == 1:
            return int(unit_hash(self.config.seed, "replay-step", step) < fraction)
        return min(batch - 1, max(1, math.floor(batch * fraction + 0.5)))

    def plan(self, step: int) -> StepPlan:
        """The plan of ``step`` (earlier steps are planned on the way, once)."""
        while len(self._first) <= step:
            s = len(self._first) - 1
            batch = self._shape(s)[1] * self.world_size
            replay = self.replay_count(s, batch)
            domain_first, replay_first = self._first[s]
            self._first.append((domain_first + batch - replay, replay_first + replay))
        p, per_rank, queries = self._shape(step)
        domain_first, replay_first = self._first[step]
        replay = self.replay_count(step, per_rank * self.world_size)
        return StepPlan(
            step, domain_first, p, per_rank, queries, self.scale_max(step), replay, replay_first
        )

    def epoch_of(self, sample: int) -> int:
        """The epoch a sample number falls in."""
        return sample // self.epoch_len

    def _permuted(self, stream: str, position: int, period: int) -> int:
        """Entry ``position`` of ``stream``: seeded permutations of range(period), one per epoch."""
        epoch, pos = divmod(position, period)
        if self._perms.get(stream, (None,))[0] != epoch:
            gen = torch.Generator().manual_seed(
                int(unit_hash(self.config.seed, stream, epoch) * 2**62)
            )
            self._perms[stream] = (epoch, torch.randperm(period, generator=gen))
        return int(self._perms[stream][1][pos])

    def image_of(self, sample: int) -> int:
        """Which train image sample number ``sample`` crops from."""
        return self._permuted("epoch", sample, self.epoch_len) % self.n_images

    def replay_image_of(self, position: int) -> int:
        """Which replay image the replay stream's entry ``position`` crops from."""
        return self._permuted("replay-epoch", position, self.n_replay_images)

    def has_heavy_twin(self, step: int, sample: int) -> bool:
        """Whether DualAug gives ``sample`` a heavy twin (only after the warm-up)."""
        aug = self.config.dualaug
        if not aug.enabled or step < aug.warmup_steps:
            return False
        return unit_hash(self.config.seed, "heavy", sample) < aug.heavy_fraction

    def rank_keys(self, step: int, rank: int) -> list[PatchKey]:
        """Sample keys of process ``rank`` at ``step``: basic samples, then their heavy twins."""
        plan = self.plan(step)
        shape = (plan.lr_patch, plan.sample_q, self.config.data.scale_min, plan.scale_max)
        n_domain = plan.per_rank * self.world_size - plan.n_replay
        basic = []
        for place in range(rank * plan.per_rank, (rank + 1) * plan.per_rank):
            if place < n_domain:
                n = plan.first_sample + place
                basic.append(PatchKey(self.image_of(n), n, *shape))
            else:
                m = plan.first_replay + place - n_domain
                basic.append(PatchKey(self.replay_image_of(m), -1 - m, *shape, replay=True))
        heavy = [
            PatchKey(k.image, k.sample, *shape, heavy=True)
            for k in basic
            if not k.replay and self.has_heavy_twin(step, k.sample)
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
