"""Run checkpoints: safetensors weights plus a side file with everything else needed to resume.

Layout of a run folder's ``checkpoints/`` (``sr.run_layout`` names the folder and the best and
last files; this module the numbered ones): ``step-NNNNNNN.safetensors`` (weights + model config)
and ``step-NNNNNNN.state.pt`` (step, optimizer, scheduler, RNG states, loss statistics, best
PSNR) for the last ``keep_last`` checkpoints, plus ``last.safetensors`` and ``best.safetensors``,
which ``sr upscale/eval --weights RUN`` read. With a weight EMA (``ema_decay`` > 0) every
``.safetensors`` file holds the averaged weights and the state file the trained ones (key
``model``), so resume continues both exactly. Every file is written to a temp file and renamed;
the state file is written after its weights, so a checkpoint counts only once both exist and a
kill at any moment leaves the previous one intact. A failed write (disk full) leaves no temp
file and no weights without state. A checkpoint whose files cannot be loaded (cut short by a
full disk or a copy, zeroed by a crash) is skipped on resume, see ``newest_loadable``.
"""

from __future__ import annotations

import ast
import pickle
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from sr.atomic import atomic_path
from sr.models.liif import LIIF
from sr.run_layout import (
    best_checkpoint,
    checkpoint_dir,
    checkpoint_steps,
    last_checkpoint,
    step_paths,
)
from sr.weights import save_model

STATE_KEYS = ("step", "optimizer", "scheduler", "loss_stats", "best_psnr", "rng")
# What loading a damaged file raises: torch's zip reader (RuntimeError), its unpickler on a
# stub (EOFError) or on garbage (UnpicklingError), safetensors' header checks.
_LOAD_ERRORS = (
    OSError,
    EOFError,
    RuntimeError,
    ValueError,
    pickle.UnpicklingError,
    SafetensorError,
)


class CheckpointError(ValueError):
    """A checkpoint file cannot be loaded; the message names the file and the reason."""


def rng_state() -> dict:
    """Global RNG states of torch (CPU and CUDA), Python and NumPy, as plain tensors/lists."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": repr(random.getstate()),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` returned."""
    torch.set_rng_state(state["torch"])
    random.setstate(ast.literal_eval(state["python"]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` with ``path`` as its file name (a failed write() names no file)."""
    if exc.filename is not None:
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def save_checkpoint(run: Path, step: int, model: LIIF, state: dict, keep_last: int) -> None:
    """Write the step's weights and state, refresh ``last``, and prune old checkpoints.

    On a failed write (an OSError naming the file) the earlier checkpoints are untouched and
    this step leaves nothing behind: no temp file, no weights without their state.
    """
    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    weights, side = step_paths(run, step)
    extra = {"step": str(step)}
    writing = weights
    try:
        save_model(model, weights, extra=extra)
        writing = side
        with atomic_path(side, suffix=".tmp") as tmp:
            torch.save({**state, "step": step}, tmp)
    except OSError as exc:
        # Only this step's pair goes: new weights without state, or an unloadable pair that
        # resume skipped and this rerun of the step was replacing.
        side.unlink(missing_ok=True)
        weights.unlink(missing_ok=True)
        raise _named(exc, writing) from exc
    last = last_checkpoint(run)
    try:
        save_model(model, last, extra=extra)
    except OSError as exc:
        raise _named(exc, last) from exc
    # prune older steps only: a newer pair left unloadable before a resume never evicts this one
    older = [s for s in list_checkpoints(run) if s < step]
    for old in older[: len(older) - (keep_last - 1)] if keep_last > 0 else []:
        for path in step_paths(run, old)[::-1]:  # state first: a half-pruned pair never counts
            path.unlink(missing_ok=True)


def save_best(run: Path, step: int, model: LIIF, psnr: float, metric: str = "psnr_mean") -> None:
    """Write ``best.safetensors`` (the weights with the best validation PSNR so far).

    ``metric`` names the ``val.csv`` column the PSNR was chosen by (kept in the metadata).
    """
    extra = {"step": str(step), "val_psnr": f"{psnr:.4f}", "val_metric": metric}
    path = best_checkpoint(run)
    try:
        save_model(model, path, extra=extra)
    except OSError as exc:
        raise _named(exc, path) from exc


def list_checkpoints(run: Path) -> list[int]:
    """Steps with a complete checkpoint (weights and state), ascending."""
    return checkpoint_steps(run)


def _reason(exc: BaseException) -> str:
    """The first line of a load error, or what an empty message means."""
    lines = str(exc).strip().splitlines()
    if isinstance(exc, EOFError) or not lines:
        return "the file ends early (empty or cut short)"
    return lines[0].removeprefix("Error while deserializing header: ")


def load_checkpoint(run: Path, step: int) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights state dict and side state of ``step``; CheckpointError if either cannot be read."""
    weights, side = step_paths(run, step)
    try:
        state = torch.load(side, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as exc:
        raise CheckpointError(f"{side}: {_reason(exc)}") from exc
    missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{side}: not a training state (no {', '.join(missing)})")
    try:
        tensors = load_file(str(weights))
    except _LOAD_ERRORS as exc:
        raise CheckpointError(f"{weights}: {_reason(exc)}") from exc
    return tensors, state


def newest_loadable(
    run: Path, note: Callable[[str], None]
) -> tuple[int, dict[str, torch.Tensor], dict] | None:
    """The newest checkpoint of ``run`` that loads: (step, weights, state); None if none exists.

    Each newer checkpoint skipped on the way gets one ``note`` naming its file and the reason;
    if checkpoints exist but none loads, one CheckpointError names them all.
    """
    skipped = []
    for step in reversed(list_checkpoints(run)):
        try:
            weights, state = load_checkpoint(run, step)
        except CheckpointError as exc:
            skipped.append(str(exc))
            continue
        for problem in skipped:
            note(f"{problem}; skipped, resuming from step {step}")
        return step, weights, state
    if skipped:
        raise CheckpointError(
            f"{checkpoint_dir(run)}: no checkpoint can be loaded ({'; '.join(skipped)})"
        )
    return None
