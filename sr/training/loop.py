"""The training loop: data (+ replay), model, Adam + LR schedule, L1 loss, DualAug, weight EMA,
validation, checkpoints."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from sr.atomic import write_atomic
from sr.cli_boundary import display_path
from sr.lineage import read_export_lineage
from sr.models.liif import LIIF, LIIFConfig
from sr.precision import autocast, precision_dtype, resolve_precision
from sr.run_layout import CONFIG_FILE, CURVES, RUN_FILE, TRAIN_LOG, VAL_LOG
from sr.training.augment import HeavyAugment, LossStatistics, heavy_weights
from sr.training.batch_plan import BatchPlanner, StepBatches
from sr.training.checkpoint import (
    list_checkpoints,
    newest_loadable,
    rng_state,
    save_best,
    save_checkpoint,
    set_rng_state,
)
from sr.training.config import TrainConfig, dump_config, load_config
from sr.training.distributed import ProcessInfo, all_sum, barrier
from sr.training.ema import WeightEma
from sr.training.image_folders import load_images, split_images, spread
from sr.training.init_pull import InitPull
from sr.training.logs import CsvLog, LogWindow, StepResult, plot_curves, recipe_line
from sr.training.merge import InitMerge
from sr.training.patch_dataset import PatchDataset, collate
from sr.training.replay_teacher import StartTeacher
from sr.training.schedule import make_scheduler
from sr.training.skimage_pictures import REPLAY_BUILTIN, replay_folder
from sr.training.step import TrainForward, per_sample_l1
from sr.training.validate import validate_benchmark, validate_images, validation_crops
from sr.weights import WeightsError, resolve_weights

TRAIN_COLUMNS = ["step", "epoch", "lr", "loss", "patches_per_s", "rejected_fraction"]


class TrainError(RuntimeError):
    """The run cannot start (bad folder, no images, wrong init); the message says why."""


@dataclass
class StepInfo:
    """What ``on_step`` callbacks receive after every optimizer step."""

    step: int  # completed steps
    loss: float
    lr: float
    rejected: int


def _note(message: str) -> None:
    """One ``note:`` line on stderr (something skipped; the run goes on)."""
    tqdm.write(f"note: {message}", file=sys.stderr)


def _initial_weights(config: TrainConfig) -> dict[str, torch.Tensor] | None:
    if config.init == "none":
        return None
    if config.model != LIIFConfig():
        raise TrainError("init official needs the default LIIF-EDSR architecture (model: {})")
    try:
        return load_file(str(resolve_weights("official")))
    except WeightsError as exc:
        raise TrainError(str(exc)) from exc


def _saved_data(run_file: Path) -> Path:
    """The data folder recorded in a run's ``run.json``."""
    try:
        return Path(json.loads(run_file.read_text())["data"])
    except (ValueError, KeyError, TypeError) as exc:
        raise TrainError(f"{run_file}: unreadable (give the data folder with --data)") from exc


def _load_replay(config: TrainConfig) -> list[torch.Tensor]:
    """The replay images (``data.replay``) in memory; none when replay is off."""
    data = config.data
    if not data.replay or data.replay_fraction <= 0:
        return []
    folder = replay_folder() if data.replay == REPLAY_BUILTIN else Path(data.replay)
    if not folder.is_dir():
        raise TrainError(f"data.replay: {display_path(folder)}: no such folder")
    paths = split_images(folder, 0.0, warn=_note).train  # every image (an export: its train split)
    images = load_images(paths, config.min_image_side(), warn=_note)
    if not images:
        raise TrainError(f"data.replay: {display_path(folder)}: no usable images")
    return images


def _val_columns(config: TrainConfig) -> list[str]:
    names = [f"psnr_x{s:g}" for s in config.val.scales]
    if config.val.benchmark:
        names += [f"bench_x{s:g}" for s in config.val.scales]
    return ["step", *names, "psnr_mean"]


class Trainer:
    """One run: call ``fit``. Rank 0 writes logs, curves and checkpoints into ``run``."""

    def __init__(
        self,
        config: TrainConfig,
        data: Path | None,
        run: Path,
        info: ProcessInfo,
        resume: bool = False,
        show_progress: bool = True,
    ) -> None:
        self.run, self.info, self.show_progress = Path(run), info, show_progress
        self.config = self._prepare_run(config, Path(data) if data else None, resume)
        cfg = self.config
        split = split_images(self.data, cfg.data.val_fraction, warn=_note)
        self.train_images = load_images(split.train, cfg.min_image_side(), warn=_note)
        if not self.train_images:
            raise TrainError(f"{display_path(self.data)}: no usable training images")
        val_images: dict[str, torch.Tensor] = {}
        if info.is_main and split.val:
            min_side = 2 * round(max(cfg.val.scales))
            for path in spread(split.val, cfg.val.max_images):
                for image in load_images([path], min_side, warn=_note):
                    val_images[display_path(path)] = image
        # domain images only, never replay
        self.val_hr = validation_crops(val_images, cfg.val.crop, note=_note)
        self.replay_images = _load_replay(cfg)
        self.planner = BatchPlanner(
            cfg, len(self.train_images), info.world_size, len(self.replay_images)
        )
        steps_per_epoch = self.planner.steps_per_epoch
        self.max_steps = cfg.max_steps or cfg.optim.epochs * steps_per_epoch

        torch.manual_seed(cfg.seed)
        self.model = LIIF(cfg.model)
        init = _initial_weights(cfg)
        if init is not None:
            self.model.load_state_dict(init, strict=True)
        self.model.to(info.device)
        if cfg.freeze_encoder:  # no gradients (the encoder's backward is skipped), no updates
            self.model.encoder.requires_grad_(False)
        trained = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trained, lr=cfg.optim.lr, betas=cfg.optim.betas)
        self.scheduler = make_scheduler(self.optimizer, cfg.optim, self.max_steps, steps_per_epoch)
        self.pull = InitPull(self.model, cfg.pull_to_init) if cfg.pull_to_init else None
        self.teacher = None
        if cfg.data.replay_target == "start" and self.replay_images:
            if cfg.init == "none" and info.is_main:
                _note("replay_target: start with init: none: replay learns an untrained network")
            self.teacher = StartTeacher(self.model, cfg.precision)
        # Only rank 0 validates and saves, so only it keeps the average.
        self.ema = WeightEma(self.model, cfg.ema_decay) if cfg.ema_decay and info.is_main else None
        merging = cfg.merges and info.is_main
        alphas = (cfg.merge_with_init, cfg.merge_encoder_with_init)
        self.merge = InitMerge(self.model, *alphas) if merging else None
        self.stats = LossStatistics(cfg.dualaug.ema_decay)
        self.best = float("-inf")
        self.start = 0
        self.train_log = CsvLog(self.run / TRAIN_LOG, TRAIN_COLUMNS)
        self.val_log = CsvLog(self.run / VAL_LOG, _val_columns(cfg))
        if resume:
            self._restore()

    @property
    def data(self) -> Path:
        """The data folder of this run."""
        return self._data

    @property
    def output_model(self) -> LIIF:
        """What validation and the weight files use: the EMA copy when on, else the model;
        merged with the starting weights when the config asks for a merge."""
        trained = self.ema.model if self.ema is not None else self.model
        return self.merge.of(trained) if self.merge is not None else trained

    def _prepare_run(self, config: TrainConfig, data: Path | None, resume: bool) -> TrainConfig:
        """Write (or, on resume, read) the run's config and data path."""
        run_file = self.run / RUN_FILE
        if resume:
            if not run_file.exists():
                raise TrainError(f"{self.run}: not a training run (no {RUN_FILE})")
            saved = load_config(self.run / CONFIG_FILE)
            config = replace(saved, max_steps=config.max_steps or saved.max_steps)
            self._data = _saved_data(run_file) if data is None else data
        else:
            if data is None:
                raise TrainError("--data is required for a new run")
            if not data.is_dir():  # before the run folder is made: a typo leaves nothing behind
                raise TrainError(f"{display_path(data)}: no such folder")
            if list_checkpoints(self.run):
                raise TrainError(f"{self.run}: already has checkpoints; use --resume {self.run}")
            # never replace files in it; rank 0 alone asks (the others see the files it writes)
            if self.info.is_main and self.run.is_dir() and any(self.run.iterdir()):
                raise TrainError(f"{self.run}: exists and is not empty (a new run needs a new one)")
            if self.run.exists() and not self.run.is_dir():
                raise TrainError(f"{self.run}: exists and is not a folder")
            replay = config.data.replay
            if replay and replay != REPLAY_BUILTIN and config.data.replay_fraction > 0:
                if not Path(replay).is_dir():  # before the run folder is made, as --data
                    raise TrainError(f"data.replay: {display_path(replay)}: no such folder")
                # saved absolute, so a resume from another working directory finds it
                config = replace(
                    config, data=replace(config.data, replay=str(Path(replay).resolve()))
                )
            self._data = data
            # saved as chosen here, so the run says what it trained with (and resumes with it)
            config = replace(
                config, precision=resolve_precision(config.precision, self.info.device)
            )
        precision_dtype(config.precision, self.info.device)  # refused before anything is written
        if self.info.is_main:
            self.run.mkdir(parents=True, exist_ok=True)
            write_atomic(self.run / CONFIG_FILE, dump_config(config).encode())
            # the data's lineage is copied in: the run keeps it if the export goes away
            saved = {"data": str(self._data.resolve())}
            if not resume:
                saved["data_lineage"] = read_export_lineage(self._data)
            elif run_file.is_file():
                saved["data_lineage"] = json.loads(run_file.read_text()).get("data_lineage")
            run_text = json.dumps(saved) + "\n"
            write_atomic(run_file, run_text.encode())
        return config

    def _restore(self) -> None:
        found = newest_loadable(self.run, note=_note if self.info.is_main else lambda _: None)
        if found is None:  # killed before the first checkpoint: start over with empty logs
            if self.info.is_main:
                self.train_log.truncate_after(-1)
                self.val_log.truncate_after(-1)
            return
        step, weights, state = found
        if (self.ema is not None or self.merge is not None) and "model" not in state:
            raise TrainError(f"{self.run}: checkpoint of step {step} has no trained weights")
        try:  # with an EMA or a merge the weight file holds their output, the state the rest
            self.model.load_state_dict(state.get("model", weights), strict=True)
            if self.ema is not None:
                self.ema.load_state_dict(state.get("ema", weights))
        except RuntimeError as exc:
            raise TrainError(
                f"{self.run}: checkpoint of step {step} does not fit the run's model config "
                f"({str(exc).strip().splitlines()[0]})"
            ) from exc
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stats.load_state_dict(state["loss_stats"])
        self.best = state["best_psnr"]
        set_rng_state(state["rng"])
        self.start = state["step"]
        if self.info.is_main:
            self.train_log.truncate_after(self.start)
            self.val_log.truncate_after(self.start)

    def _state(self, step: int) -> dict:
        trained = {}
        # the weight file gets the average (and/or the merge); resume needs what went into it
        if self.ema is not None or self.merge is not None:
            trained["model"] = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        if self.ema is not None and self.merge is not None:
            trained["ema"] = {k: v.detach().cpu() for k, v in self.ema.state_dict().items()}
        return {
            **trained,
            "step": step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "loss_stats": self.stats.state_dict(),
            "best_psnr": self.best,
            "rng": rng_state(),
            "world_size": self.info.world_size,
        }

    def validate(self, step: int) -> dict[str, float]:
        """Validation PSNRs (rank 0), logged to ``val.csv``; keeps ``best.safetensors``.

        Best is chosen by the validation split's PSNR (the benchmark's only when the split is
        empty): the mean over ``val.scales``, or the PSNR at ``val.select_scale``.
        """
        cfg = self.config
        model = self.output_model
        model.eval()
        row: dict[str, float] = {}
        if self.val_hr:
            for s, v in validate_images(model, self.val_hr, cfg.val.scales).items():
                row[f"psnr_x{s:g}"] = v
        if cfg.val.benchmark:
            for s, v in validate_benchmark(model, Path(cfg.val.benchmark), cfg.val.scales).items():
                row[f"bench_x{s:g}"] = v
        self.model.train()
        if not row:
            return row
        prefix = "psnr_x" if self.val_hr else "bench_x"
        own = [v for k, v in row.items() if k.startswith(prefix)]
        row["psnr_mean"] = sum(own) / len(own)
        by = cfg.val.select_scale
        metric = "psnr_mean" if by is None else f"{prefix}{by:g}"
        self.val_log.append({"step": step, **{k: f"{v:.4f}" for k, v in row.items()}})
        if row[metric] > self.best:
            self.best = row[metric]
            save_best(self.run, step, model, self.best, metric)
        return row

    def fit(self, on_step: Callable[[StepInfo], None] | None = None) -> None:
        """Train from ``self.start`` to ``self.max_steps``."""
        cfg, info = self.config, self.info
        if info.is_main:
            replay_per_batch = self.planner.replay_count(0, cfg.optim.batch_size)
            tqdm.write(
                recipe_line(
                    cfg,
                    total_steps=self.max_steps,
                    steps_per_epoch=self.planner.steps_per_epoch,
                    replay_images=len(self.replay_images),
                    replay_per_batch=replay_per_batch,
                ),
                file=sys.stdout,
            )
        heavy = HeavyAugment(cfg.dualaug) if cfg.dualaug.enabled else None
        dataset = PatchDataset(
            self.train_images, cfg.seed, cfg.data.augment, heavy, self.replay_images
        )
        batches = StepBatches(self.planner, info.rank, self.start, self.max_steps)
        loader = DataLoader(
            dataset,
            batch_sampler=batches,
            collate_fn=collate,
            num_workers=cfg.data.num_workers,
            persistent_workers=False,
        )
        forward = TrainForward(self.model, fast=cfg.fast_step)
        if info.distributed:
            device_ids = [info.device.index] if info.device.type == "cuda" else None
            forward = DistributedDataParallel(forward, device_ids=device_ids)
        if info.is_main and cfg.val.at_start and self.start == 0:
            self.validate(0)
        bar = tqdm(
            total=self.max_steps,
            initial=self.start,
            unit="step",
            desc="train",
            disable=not (info.is_main and self.show_progress),
        )
        window = LogWindow()
        self.model.train()
        for step, batch in enumerate(loader, start=self.start):
            batch = {k: v.to(info.device, non_blocking=True) for k, v in batch.items()}
            result = self._train_step(forward, batch)
            window.add(result)
            done = step + 1
            lr = self.optimizer.param_groups[0]["lr"]
            if done % cfg.log_every == 0 or done == self.max_steps:
                row = window.summary()
                if info.is_main:
                    epoch = done / self.planner.steps_per_epoch
                    self.train_log.append(
                        {"step": done, "epoch": f"{epoch:.3f}", "lr": f"{lr:.3e}", **row}
                    )
                bar.set_postfix(
                    loss=row["loss"], patches_s=row["patches_per_s"], rej=row["rejected_fraction"]
                )
                window = LogWindow()
            paused = time.perf_counter()  # validation and checkpoints do not count as speed
            if info.is_main and (done % cfg.val.every == 0 or done == self.max_steps):
                self.validate(done)
                plot_curves(self.train_log, self.val_log, self.run / CURVES)
            if info.is_main and (done % cfg.checkpoint_every == 0 or done == self.max_steps):
                save_checkpoint(self.run, done, self.output_model, self._state(done), cfg.keep_last)
            window.exclude(time.perf_counter() - paused)
            bar.update(1)
            if on_step is not None:
                on_step(StepInfo(done, result.basic_mean, lr, result.rejected))
        bar.close()
        barrier(info)

    def _train_step(self, forward: torch.nn.Module, batch: dict[str, torch.Tensor]) -> StepResult:
        """One optimizer step on ``batch`` (this process's share of the global batch)."""
        cfg, info = self.config, self.info
        if self.teacher is not None:
            batch = self.teacher.relabel(batch)
        with autocast(cfg.precision, info.device):
            pred = forward(batch["inp"], batch["coord"], batch["cell"])
        losses = per_sample_l1(pred, batch["gt"])
        heavy = batch["heavy"]
        basic = losses.detach()[~heavy]
        sums = all_sum(
            torch.stack(
                [
                    basic.sum(),
                    basic.pow(2).sum(),
                    torch.tensor(float(basic.numel()), device=basic.device),
                ]
            ).double(),
            info,
        )
        n_basic = int(sums[2])
        mean = float(sums[0] / n_basic)
        var = max(0.0, float(sums[1] / n_basic) - mean * mean)
        self.stats.update(mean, var)
        weights, rejected = heavy_weights(
            losses,
            heavy,
            batch["twin"],
            self.stats.threshold(cfg.dualaug.lam),
            cfg.dualaug.reject_mode,
        )
        totals = all_sum(
            torch.stack(
                [
                    weights.sum(),
                    torch.tensor(float(rejected), device=weights.device),
                    heavy.sum().float(),
                ]
            ).double(),
            info,
        )
        # DDP averages gradients over processes: scale so the result is the global weighted mean.
        loss = (weights * losses).sum() * (info.world_size / float(totals[0]))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.pull is not None:  # with the LR this step used, before the schedule moves it
            self.pull.apply(self.optimizer.param_groups[0]["lr"])
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update()
        return StepResult(float(loss.detach()), mean, n_basic, int(totals[1]), int(totals[2]))


def train(
    config: TrainConfig,
    data: Path | None,
    run: Path,
    info: ProcessInfo,
    resume: bool = False,
    on_step: Callable[[StepInfo], None] | None = None,
    show_progress: bool = True,
) -> Trainer:
    """Build a trainer for ``run`` (new, or resumed from its last checkpoint) and train it."""
    trainer = Trainer(config, data, run, info, resume=resume, show_progress=show_progress)
    trainer.fit(on_step)
    return trainer
