"""The layout of a training run folder: the one place its file names are spelled out.

``RUN/`` holds ``run.json`` (data folder and its lineage, see ``sr.lineage``), ``config.yaml``
(the full training config), ``log.csv`` (loss per step), ``val.csv`` (validation PSNR) and
``checkpoints/``: ``best.safetensors`` (best validation PSNR so far), ``last.safetensors`` and
the numbered resume points that ``sr.training.checkpoint`` names and prunes.

Torch-free, so the studio and catalog commands can read runs without importing the trainer.
"""

from __future__ import annotations

from pathlib import Path

RUN_FILE = "run.json"  # {"data": ..., "data_lineage": ...}
CONFIG_FILE = "config.yaml"
TRAIN_LOG = "log.csv"
VAL_LOG = "val.csv"
CHECKPOINTS = "checkpoints"
BEST = "best.safetensors"
LAST = "last.safetensors"


def checkpoint_dir(run: str | Path) -> Path:
    """``RUN/checkpoints``."""
    return Path(run) / CHECKPOINTS


def best_checkpoint(run: str | Path) -> Path:
    """``RUN/checkpoints/best.safetensors`` (may not exist yet)."""
    return checkpoint_dir(run) / BEST


def last_checkpoint(run: str | Path) -> Path:
    """``RUN/checkpoints/last.safetensors`` (may not exist yet)."""
    return checkpoint_dir(run) / LAST


def trained_checkpoint(run: str | Path) -> Path | None:
    """The weights a run stands for: best if validated, else last; None before either exists."""
    for path in (best_checkpoint(run), last_checkpoint(run)):
        if path.exists():
            return path
    return None


def has_checkpoints(run: str | Path) -> bool:
    """Whether the run has begun writing checkpoints (anything in ``checkpoints/``)."""
    folder = checkpoint_dir(run)
    return folder.is_dir() and any(folder.iterdir())


def run_of_checkpoint(path: str | Path) -> Path | None:
    """The run folder of a file in ``RUN/checkpoints/``; None for a file anywhere else."""
    path = Path(path)
    return path.parent.parent if path.parent.name == CHECKPOINTS else None
