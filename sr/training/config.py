"""Training configuration: frozen dataclasses with the LIIF paper's recipe as defaults, YAML I/O.

Paper recipe (``train_edsr-baseline-liif.yaml`` of the official release): 48x48 LR patches from
random HR crops at a scale drawn from U[1, 4], flips and transposition, 2304 query pixels per
patch, L1 loss, Adam lr 1e-4 halved every 200 epochs of 1000, batch 16, dataset repeated 20 times
per epoch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sr.config_io import ConfigError, check_ranges, from_dict, read_mapping, to_dict
from sr.models.liif import LIIFConfig
from sr.precision import AUTO, DEFAULT_PRECISION, PRECISIONS

MAX_SEED = 2**64 - 1  # the largest seed torch.manual_seed takes
REPLAY_TARGETS = ("gt", "start")  # DataConfig.replay_target


@dataclass(frozen=True)
class DataConfig:
    """Patch sampling (the paper's ``sr-implicit-downsampled`` wrapper) and the data split."""

    lr_patch: int = 48
    scale_min: float = 1.0
    scale_max: float = 4.0
    sample_q: int = 2304
    augment: bool = True  # random flips and transposition
    repeat: int = 20  # dataset passes per epoch
    val_fraction: float = 0.1  # plain folders only; an export brings its own split
    num_workers: int = 0
    # folder of generic images mixed into every batch (not validated on); "skimage": the
    # built-in photos of sr.training.skimage_pictures.REPLAY_PICTURES
    replay: str | None = None
    replay_fraction: float = 0.0  # share of each batch drawn from ``replay``
    # what a replay sample is trained towards: "gt", its own HR pixels; "start", the starting
    # weights' prediction for the same queries (learning without forgetting, replay_teacher.py)
    replay_target: str = "gt"

    def __post_init__(self) -> None:
        check_ranges(
            self,
            {
                "lr_patch": {"minimum": 1},
                "scale_min": {"minimum": 1},
                "scale_max": {"minimum": 1},
                "sample_q": {"minimum": 1},
                "repeat": {"minimum": 1},
                "val_fraction": {"minimum": 0, "below_one": True},
                "num_workers": {"minimum": 0},
                "replay_fraction": {"minimum": 0, "below_one": True},
            },
        )
        if self.replay_target not in REPLAY_TARGETS:
            raise ConfigError(
                f"replay_target: expected {'|'.join(REPLAY_TARGETS)}, got {self.replay_target!r}"
            )
        if self.replay_target == "start" and not (self.replay and self.replay_fraction > 0):
            raise ConfigError("replay_target: start needs data.replay and a replay_fraction > 0")
        if self.replay_fraction > 0 and not self.replay:
            raise ConfigError(
                f"replay_fraction: {self.replay_fraction:g} needs data.replay (a folder of images)"
            )
        if self.scale_max < self.scale_min:
            raise ConfigError(
                f"scale_max: must be ≥ scale_min ({self.scale_min:g}), got {self.scale_max:g}"
            )
        if self.sample_q > self.lr_patch**2:
            raise ConfigError(
                f"sample_q: must be ≤ lr_patch² ({self.lr_patch**2}, the HR pixels of a patch "
                f"at scale 1), got {self.sample_q}"
            )


@dataclass(frozen=True)
class OptimConfig:
    """Adam with a step or cosine schedule; epochs are passes over ``repeat`` copies of the train
    split. See ``sr.training.schedule`` for the LR at each step."""

    batch_size: int = 16  # global: split over processes
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    lr_step_epochs: float = 200
    lr_gamma: float = 0.5
    epochs: int = 1000
    schedule: str = "step"  # "step": x lr_gamma every lr_step_epochs; "cosine": down to lr_min
    warmup_steps: int = 0  # linear warm-up from 0 over the first steps (either schedule)
    lr_min: float = 0.0  # cosine: the LR reached at the last step

    def __post_init__(self) -> None:
        check_ranges(
            self,
            {
                "batch_size": {"minimum": 1},
                "lr": {"minimum": 0, "above": True},
                "betas": {"minimum": 0, "below_one": True},
                "lr_step_epochs": {"minimum": 0, "above": True},
                "lr_gamma": {"minimum": 0, "above": True},
                "epochs": {"minimum": 1},
                "warmup_steps": {"minimum": 0},
                "lr_min": {"minimum": 0},
            },
        )
        if len(self.betas) != 2:
            raise ConfigError(f"betas: expected two numbers, got {list(self.betas)}")
        if self.lr_min > self.lr:
            raise ConfigError(f"lr_min: must be ≤ lr ({self.lr:g}), got {self.lr_min:g}")
        if self.schedule not in ("step", "cosine"):
            raise ConfigError(f"schedule: expected step|cosine, got {self.schedule!r}")


@dataclass(frozen=True)
class SamplerConfig:
    """Variable-batch multi-scale sampler: batch x patch^2 kept about constant (off by default)."""

    enabled: bool = False
    patch_sizes: tuple[int, ...] = (32, 40, 48, 56, 64)
    batch_multiple: int = 8  # global batches are multiples of this (process counts divide it)
    curriculum_steps: int = 0  # 0: no curriculum; else widen sizes and scales over these steps
    curriculum_start_sizes: int = 1  # how many sizes (nearest to lr_patch) are allowed at step 0
    curriculum_start_scale_max: float = 2.0

    def __post_init__(self) -> None:
        check_ranges(
            self,
            {
                "patch_sizes": {"minimum": 1},
                "batch_multiple": {"minimum": 1},
                "curriculum_steps": {"minimum": 0},
                "curriculum_start_sizes": {"minimum": 1},
                "curriculum_start_scale_max": {"minimum": 1},
            },
        )


@dataclass(frozen=True)
class DualAugConfig:
    """Heavy augmentation branch with out-of-distribution rejection (off by default)."""

    enabled: bool = False
    heavy_fraction: float = 1.0  # share of samples that get a heavy twin
    ops_per_sample: int = 2
    strength: float = 1.0  # scales every op's magnitude range
    lam: float = 3.0  # reject a heavy sample whose loss > mean + lam * std of basic samples
    ema_decay: float = 0.99
    warmup_steps: int = 100  # heavy samples are neither used nor judged before this step
    reject_mode: str = "drop"  # "drop" or "replace" (count the basic twin twice)

    def __post_init__(self) -> None:
        check_ranges(
            self,
            {
                "heavy_fraction": {"minimum": 0, "maximum": 1},
                "ops_per_sample": {"minimum": 1},
                "strength": {"minimum": 0},
                "lam": {},  # any finite number of standard deviations
                "ema_decay": {"minimum": 0, "below_one": True},
                "warmup_steps": {"minimum": 0},
            },
        )
        if self.reject_mode not in ("drop", "replace"):
            raise ConfigError(f"reject_mode: expected drop|replace, got {self.reject_mode!r}")


@dataclass(frozen=True)
class ValConfig:
    """Validation PSNR (Y channel, shave = scale) on crops of the val split (the centre or, where
    that has less detail, a window at a corner or edge: ``sr.training.validate``)."""

    every: int = 1000
    scales: tuple[float, ...] = (2.0, 3.0, 4.0, 6.0)
    crop: int = 240  # HR crop side; a multiple of 12 keeps x2, x3, x4, x6 exact
    max_images: int = 10
    benchmark: str | None = None  # optional EDSR-layout set, evaluated at the same scales
    at_start: bool = True  # validate before the first step (the "before" numbers)
    select_scale: float | None = None  # best.safetensors by this scale's PSNR; None: the mean

    def __post_init__(self) -> None:
        check_ranges(
            self,
            {
                "every": {"minimum": 1},
                "scales": {"minimum": 1},
                "crop": {"minimum": 1},
                "max_images": {"minimum": 0},
            },
        )
        if self.select_scale is not None and self.select_scale not in self.scales:
            scales = ", ".join(f"{s:g}" for s in self.scales)
            raise ConfigError(
                f"select_scale: must be one of val.scales ({scales}), got {self.select_scale:g}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs besides the data folder, output folder and device."""

    model: LIIFConfig = field(default_factory=LIIFConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    dualaug: DualAugConfig = field(default_factory=DualAugConfig)
    val: ValConfig = field(default_factory=ValConfig)
    init: str = "official"  # "official" fine-tunes from the released weights; "none": scratch
    seed: int = 0
    max_steps: int | None = None  # None: the paper's epochs
    fast_step: bool = True  # per-code first decoder layer; False: the literal paper step
    # training steps' maths (sr.precision): bf16 autocast is ~2x faster on CPUs with AVX512-BF16;
    # the weights, optimizer, validation and saved checkpoints stay fp32. "auto": bf16 where the
    # device runs it fast, else fp32 (a new run saves the one it chose in config.yaml)
    precision: str = DEFAULT_PRECISION
    checkpoint_every: int = 1000
    keep_last: int = 3
    log_every: int = 10
    ema_decay: float = 0.0  # 0: off; else validation and saved weights are an EMA of the weights
    freeze_encoder: bool = False  # train the decoder only (the EDSR encoder gets no updates)
    # validated and saved weights: start + merge_with_init * (trained - start) (WiSE-FT);
    # 1: the trained weights as they are
    merge_with_init: float = 1.0
    merge_encoder_with_init: float | None = None  # the encoder's own alpha (None: as above)
    # after each step, trained weights move lr * pull_to_init of the way back to the start
    # (decoupled L2-SP, sr.training.init_pull); 0: off
    pull_to_init: float = 0.0

    def __post_init__(self) -> None:
        if self.init not in ("official", "none"):
            raise ConfigError(f"init: expected 'official' or 'none', got {self.init!r}")
        if self.precision not in (*PRECISIONS, AUTO):
            names = ", ".join((*PRECISIONS, AUTO))
            raise ConfigError(f"precision: expected one of {names}, got {self.precision!r}")
        check_ranges(
            self,
            {
                "seed": {"minimum": 0, "maximum": MAX_SEED},
                "ema_decay": {"minimum": 0, "below_one": True},
                "merge_with_init": {"minimum": 0, "maximum": 1},
                "merge_encoder_with_init": {"minimum": 0, "maximum": 1},
                "pull_to_init": {"minimum": 0},
                "max_steps": {"minimum": 1},
                "checkpoint_every": {"minimum": 1},
                "keep_last": {"minimum": 0},  # 0 keeps every checkpoint
                "log_every": {"minimum": 1},
            },
        )
        # LIIFConfig belongs to the model; its sizes are checked here, where configs are read.
        check_ranges(
            self.model,
            {
                "n_resblocks": {"minimum": 0},
                "n_feats": {"minimum": 1},
                "hidden_list": {"minimum": 1},
            },
            where="model.",
        )

    @property
    def merges(self) -> bool:
        """Whether the saved weights are a merge with the starting weights (not as trained)."""
        return self.merge_with_init < 1 or self.merge_encoder_with_init not in (None, 1)

    def max_patch(self) -> int:
        """Largest LR patch side any step can ask for."""
        sizes = self.sampler.patch_sizes if self.sampler.enabled else ()
        return max((self.data.lr_patch, *sizes))

    def min_image_side(self) -> int:
        """Images with a side below this cannot give a patch at the maximum scale."""
        return round(self.max_patch() * self.data.scale_max)


def load_config(path: Path | None) -> TrainConfig:
    """The paper defaults, overridden by a YAML file if given."""
    if path is None:
        return TrainConfig()
    data = read_mapping(path)
    try:
        return from_dict(TrainConfig, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def dump_config(config: TrainConfig) -> str:
    """YAML text that ``load_config`` reads back to an equal config."""
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def with_overrides(config: TrainConfig, **changes: Any) -> TrainConfig:
    """Replace top-level fields, ignoring ``None`` values (unset CLI flags)."""
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
