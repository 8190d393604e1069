"""Training logs: the recipe line, per-step figures, CSV files (truncated on resume), the curves."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from sr.atomic import atomic_path
from sr.cli_boundary import display_path
from sr.precision import DEFAULT_PRECISION
from sr.training.config import TrainConfig
from sr.training.schedule import describe_schedule


def recipe_line(
    config: TrainConfig,
    total_steps: int,
    steps_per_epoch: int,
    replay_images: int,
    replay_per_batch: int,
) -> str:
    """The recipe in one line: schedule, EMA, frozen encoder, pull, merge, replay, best by."""
    parts = [f"schedule {describe_schedule(config.optim, total_steps, steps_per_epoch)}"]
    if config.ema_decay > 0:
        parts.append(f"EMA decay {config.ema_decay:g} (validation and saved weights)")
    else:
        parts.append("EMA off")
    parts.append("encoder frozen (decoder trained)" if config.freeze_encoder else "encoder trained")
    if config.precision != DEFAULT_PRECISION:
        parts.append(f"{config.precision} autocast (fp32 weights, validation and checkpoints)")
    if config.pull_to_init > 0:
        parts.append(f"pull to start {config.pull_to_init:g} x lr per step")
    if config.merges:
        alpha, encoder = config.merge_with_init, config.merge_encoder_with_init
        if encoder is None or encoder == alpha:
            parts.append(f"saved weights = start + {alpha:g} x (trained - start)")
        else:
            parts.append(
                f"saved weights = start + {alpha:g} x (trained - start), "
                f"{encoder:g} x for the encoder"
            )
    if replay_images:
        folder = display_path(config.data.replay or "")
        fraction = config.data.replay_fraction
        share = (
            f"{replay_per_batch} of {config.optim.batch_size} samples per batch"
            if config.optim.batch_size > 1
            else f"the sample of a share {fraction:g} of the steps"
        )
        target = ", towards the start's predictions" if config.data.replay_target == "start" else ""
        parts.append(
            f"replay {share} (fraction {fraction:g}) from {folder} ({replay_images} images){target}"
        )
    else:
        parts.append("replay off")
    scales = ", ".join(f"x{s:g}" for s in config.val.scales)
    by = config.val.select_scale
    parts.append(
        f"best by validation PSNR at x{by:g}"
        if by is not None
        else f"best by mean validation PSNR over {scales}"
    )
    return "recipe: " + "; ".join(parts)


@dataclass(frozen=True)
class StepResult:
    """Global (all-process) figures of one step."""

    loss: float
    basic_mean: float  # mean per-sample L1 of the basic samples
    n_basic: int
    rejected: int
    n_heavy: int


class LogWindow:
    """Running sums between two log rows; time spent on validation/checkpoints is excluded."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.excluded = 0.0
        self.results: list[StepResult] = []

    def add(self, result: StepResult) -> None:
        """Count one step."""
        self.results.append(result)

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (validation, checkpoints) out of the speed."""
        self.excluded += seconds

    def summary(self) -> dict[str, str]:
        """Log-row fields: mean basic loss, basic patches per second, rejected fraction."""
        elapsed = max(time.perf_counter() - self.start - self.excluded, 1e-9)
        n = max(1, len(self.results))
        heavy = sum(r.n_heavy for r in self.results)
        rejected = sum(r.rejected for r in self.results) / heavy if heavy else 0.0
        return {
            "loss": f"{sum(r.basic_mean for r in self.results) / n:.6f}",
            "patches_per_s": f"{sum(r.n_basic for r in self.results) / elapsed:.2f}",
            "rejected_fraction": f"{rejected:.4f}",
        }


class CsvLog:
    """Append-only CSV with a fixed header; ``truncate_after`` drops rows of a lost future."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = Path(path)
        self.columns = columns

    def append(self, row: dict) -> None:
        """Add one row (missing columns empty), flushed to disk at once."""
        new = not self.path.exists()
        with open(self.path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def rows(self) -> list[dict[str, str]]:
        """All rows as dicts of strings."""
        if not self.path.exists():
            return []
        with open(self.path, newline="") as fh:
            return list(csv.DictReader(fh))

    def truncate_after(self, step: int) -> None:
        """Keep only rows with ``step`` <= ``step`` (rows written after the checkpoint resumed)."""
        if not self.path.exists():
            return
        kept = [r for r in self.rows() if _row_step(r) <= step]  # a row cut short by a kill: gone
        with atomic_path(self.path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)


def _row_step(row: dict[str, str]) -> float:
    """The step of a log row; infinity for a row without a whole-number step."""
    try:
        return int(row.get("step") or "")
    except ValueError:
        return float("inf")


def plot_curves(train_log: CsvLog, val_log: CsvLog, out: Path) -> None:
    """Loss (left) and validation PSNR per scale (right) against step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = train_log.rows(), val_log.rows()
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        ax_loss.plot([int(r["step"]) for r in train], [float(r["loss"]) for r in train], lw=1)
    ax_loss.set(xlabel="step", ylabel="L1 loss (normalised)", title="training loss")
    ax_loss.grid(alpha=0.3)
    for column in val_log.columns:
        if column.startswith("psnr_x") and val:
            points = [(int(r["step"]), float(r[column])) for r in val if r.get(column)]
            ax_psnr.plot(*zip(*points, strict=True), marker="o", ms=3, label=column[5:])
    ax_psnr.set(xlabel="step", ylabel="PSNR (dB, Y)", title="validation")
    ax_psnr.grid(alpha=0.3)
    if val:
        ax_psnr.legend()
    fig.tight_layout()
    try:
        with atomic_path(out, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
