"""The layout of a training run folder: the one place its file names are spelled out.

``RUN/`` holds ``run.json`` (data folder and its lineage, see ``sr.lineage``), ``config.yaml``
(the full training config), ``log.csv`` (loss per step), ``val.csv`` (validation PSNR) and
``checkpoints/``: ``best.safetensors`` (best validation PSNR so far), ``last.safetensors`` and
the numbered resume points that ``sr.training.checkpoint`` names and prunes.

Torch-free, so the studio and catalog commands can read runs without importing the trainer.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

RUN_FILE = "run.json"  # {"data": ..., "data_lineage": ...}
CONFIG_FILE = "config.yaml"
TRAIN_LOG = "log.csv"
VAL_LOG = "val.csv"
CURVES = "curves.png"  # loss and validation PSNR against step, redrawn at each validation
CHECKPOINTS = "checkpoints"
BEST = "best.safetensors"
LAST = "last.safetensors"


STEP_STATE_RE = re.compile(r"^step-(\d+)\.state\.pt$")  # a numbered resume point's state file


def step_paths(run: str | Path, step: int) -> tuple[Path, Path]:
    """``RUN/checkpoints/step-NNNNNNN.safetensors`` and its ``.state.pt``."""
    stem = checkpoint_dir(run) / f"step-{step:07d}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".state.pt")


def checkpoint_steps(run: str | Path) -> list[int]:
    """Steps with both files of a numbered checkpoint (weights and state), ascending."""
    folder = checkpoint_dir(run)
    if not folder.is_dir():
        return []
    steps = []
    for path in folder.iterdir():
        match = STEP_STATE_RE.match(path.name)
        if match and step_paths(run, int(match.group(1)))[0].exists():
            steps.append(int(match.group(1)))
    return sorted(steps)


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


def planned_steps(run: str | Path) -> int | None:
    """``max_steps`` of the run's config; None before the trainer wrote it, or if unreadable."""
    import yaml

    try:
        config = yaml.safe_load((Path(run) / CONFIG_FILE).read_text(encoding="utf-8")) or {}
        return int(config["max_steps"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return None


def last_step(run: str | Path) -> int:
    """The last step the run logged (0 before the first)."""
    rows = read_metrics(run)
    return int(rows[-1]["step"]) if rows else 0


def read_metrics(run: str | Path) -> list[dict[str, float]]:
    """The run's loss log and validation log joined on ``step``, one dict per step, by step.

    Readable while the run writes: a missing file or a half-written row is left out (the next
    read has it). A step logged twice (a resumed run) keeps its last row.
    """
    merged: dict[int, dict[str, float]] = {}
    for name in (TRAIN_LOG, VAL_LOG):
        try:
            with open(Path(run) / name, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        for row in rows:
            if None in row.values():  # fewer cells than columns: the row is being written
                continue
            try:
                step = int(float(row.get("step") or ""))
            except (ValueError, OverflowError):  # not a number, or inf
                continue
            values = merged.setdefault(step, {"step": step})
            for key, text in row.items():
                if key is None or key == "step":
                    continue
                try:
                    values[key] = float(text)
                except (TypeError, ValueError):
                    pass
    return [merged[step] for step in sorted(merged)]
