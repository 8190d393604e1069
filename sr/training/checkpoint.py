"""Run checkpoints: safetensors weights plus a side file with everything else needed to resume.

Layout of a run folder's ``checkpoints/``: ``step-NNNNNNN.safetensors`` (weights + model config)
and ``step-NNNNNNN.state.pt`` (step, optimizer, scheduler, RNG states, loss statistics, best
PSNR) for the last ``keep_last`` checkpoints, plus ``last.safetensors`` and ``best.safetensors``,
which ``sr upscale/eval --weights RUN`` read. Every file is written to a temp file and renamed;
the state file is written after its weights, so a checkpoint counts only once both exist and a
kill at any moment leaves the previous one intact.
"""

from __future__ import annotations

import ast
import os
import random
import re
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from sr.models.liif import LIIF
from sr.weights import save_model

STEP_RE = re.compile(r"^step-(\d+)\.state\.pt$")


def checkpoint_dir(run: Path) -> Path:
    """``RUN/checkpoints``."""
    return Path(run) / "checkpoints"


def _paths(run: Path, step: int) -> tuple[Path, Path]:
    stem = checkpoint_dir(run) / f"step-{step:07d}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".state.pt")


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


def _atomic_torch_save(obj: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_checkpoint(run: Path, step: int, model: LIIF, state: dict, keep_last: int) -> None:
    """Write the step's weights and state, refresh ``last``, and prune old checkpoints."""
    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    weights, side = _paths(run, step)
    extra = {"step": str(step)}
    save_model(model, weights, extra=extra)
    _atomic_torch_save({**state, "step": step}, side)
    save_model(model, folder / "last.safetensors", extra=extra)
    for old in list_checkpoints(run)[:-keep_last] if keep_last > 0 else []:
        for path in _paths(run, old)[::-1]:  # state first: a half-pruned pair never counts
            path.unlink(missing_ok=True)


def save_best(run: Path, step: int, model: LIIF, psnr: float) -> None:
    """Write ``best.safetensors`` (the weights with the best validation PSNR so far)."""
    extra = {"step": str(step), "val_psnr": f"{psnr:.4f}"}
    save_model(model, checkpoint_dir(run) / "best.safetensors", extra=extra)


def list_checkpoints(run: Path) -> list[int]:
    """Steps with a complete checkpoint (weights and state), ascending."""
    folder = checkpoint_dir(run)
    if not folder.is_dir():
        return []
    steps = []
    for path in folder.iterdir():
        match = STEP_RE.match(path.name)
        if match and _paths(run, int(match.group(1)))[0].exists():
            steps.append(int(match.group(1)))
    return sorted(steps)


def load_checkpoint(run: Path, step: int) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights state dict and side state of ``step``."""
    weights, side = _paths(run, step)
    state = torch.load(side, map_location="cpu", weights_only=True)
    return load_file(str(weights)), state
