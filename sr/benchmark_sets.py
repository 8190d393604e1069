"""Evaluation sets: the EDSR layout (``HR/<name>.png``, ``LR_bicubic/X{s}/<name>x{s}.png``) or a
plain folder of HR images (your own domain), whose LR inputs are all made as below.

Low-resolution inputs follow the LIIF evaluation protocol: for x2/x3/x4 the set's own bicubic
files are used (HR cropped to LR size x s); for any other scale the LR image is made from the HR
image cropped to a multiple of s, by PIL bicubic through torchvision's ToPILImage/Resize, which
quantises to uint8 exactly as the official code does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms

from sr.image_formats import READ_SUFFIXES, has_suffix


@dataclass
class BenchmarkPair:
    """One evaluation sample: ``lr`` ``(3, h, w)`` and ``hr`` ``(3, H, W)`` in [0, 1]."""

    name: str
    lr: torch.Tensor
    hr: torch.Tensor


def load_rgb_tensor(path: Path) -> torch.Tensor:
    """An image as RGB float ``(3, H, W)`` in [0, 1]; gray is replicated, as LIIF's loader does."""
    with Image.open(path) as im:
        return transforms.ToTensor()(im.convert("RGB"))


def downsample_bicubic(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """LIIF's ``resize_fn``: float → uint8 PIL → bicubic to ``size`` (h, w) → float."""
    pil = transforms.ToPILImage()(img)
    resized = transforms.Resize(size, transforms.InterpolationMode.BICUBIC)(pil)
    return transforms.ToTensor()(resized)


def hr_dir(set_dir: Path) -> Path:
    """Where a set's HR images are: ``SET/HR`` in the EDSR layout, else the folder itself."""
    set_dir = Path(set_dir)
    if not set_dir.is_dir():
        raise FileNotFoundError(f"{set_dir}: no such folder")
    return set_dir / "HR" if (set_dir / "HR").is_dir() else set_dir


BENCHMARKS_ENV = "SR_BENCHMARKS"
# The shared folder beside the checkout, as in the developers' layout (../shared/benchmarks).
DEFAULT_BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def benchmarks_root() -> Path:
    """Folder holding the benchmark sets: ``$SR_BENCHMARKS``, else ``../shared/benchmarks``."""
    return Path(os.environ.get(BENCHMARKS_ENV) or DEFAULT_BENCHMARKS)


def resolve_set(name_or_path: str | Path) -> Path:
    """A set's folder: the path when it exists, else the set of that name under
    ``benchmarks_root()`` (``sr eval Set5``), else the path as given (its error says it is
    missing)."""
    path = Path(name_or_path)
    if path.exists() or len(path.parts) != 1:
        return path
    named = benchmarks_root() / path
    return named if named.is_dir() else path


def find_sets(root: Path) -> list[Path]:
    """The EDSR-layout sets (folders with ``HR/``) directly under ``root``, sorted by name."""
    if not Path(root).is_dir():
        return []
    return sorted(p for p in Path(root).iterdir() if (p / "HR").is_dir())


def hr_files(set_dir: Path) -> list[Path]:
    """The HR images of a set, sorted by name."""
    folder = hr_dir(set_dir)
    files = sorted(p for p in folder.iterdir() if has_suffix(p) and p.is_file())
    if not files:
        raise FileNotFoundError(f"{folder}: no images (expected HR images or the EDSR layout)")
    return files


def lr_file(set_dir: Path, name: str, scale: float) -> Path | None:
    """The set's own LR file for an integer scale, if it exists."""
    if scale != int(scale):
        return None
    folder = Path(set_dir) / "LR_bicubic" / f"X{int(scale)}"
    for suffix in sorted(READ_SUFFIXES):
        candidate = folder / f"{name}x{int(scale)}{suffix}"
        if candidate.exists():
            return candidate
    return None


def make_pair(hr: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """LR made on the fly from HR cropped to a multiple of ``scale`` (SRImplicitDownsampled)."""
    h_lr = math.floor(hr.shape[-2] / scale + 1e-9)
    w_lr = math.floor(hr.shape[-1] / scale + 1e-9)
    hr = hr[:, : round(h_lr * scale), : round(w_lr * scale)]
    return downsample_bicubic(hr, (h_lr, w_lr)), hr


def _pair(
    set_dir: Path, hr_path: Path, hr: torch.Tensor, scale: float, use_lr_files: bool
) -> BenchmarkPair:
    """The pair of the decoded ``hr`` (read from ``hr_path``) at ``scale``; ``hr`` is cropped as
    a view, never changed, so one decoded image serves every scale."""
    lr_path = lr_file(set_dir, hr_path.stem, scale) if use_lr_files and scale in (2, 3, 4) else None
    if lr_path is not None:
        lr = load_rgb_tensor(lr_path)
        s = int(scale)
        hr = hr[:, : lr.shape[-2] * s, : lr.shape[-1] * s]
    else:
        lr, hr = make_pair(hr, scale)
    return BenchmarkPair(hr_path.stem, lr, hr)


def iter_pairs(set_dir: Path, scale: float, use_lr_files: bool = True) -> Iterator[BenchmarkPair]:
    """Evaluation pairs of a set at ``scale``; the set's LR files are used for x2/x3/x4."""
    for hr_path in hr_files(set_dir):
        yield _pair(set_dir, hr_path, load_rgb_tensor(hr_path), scale, use_lr_files)


def load_pairs(set_dir: Path, scales: Iterable[float]) -> dict[float, list[BenchmarkPair]]:
    """A set's pairs at every scale (those of ``iter_pairs``), each file decoded once: the whole
    set is held in memory, every scale's HR a view of one decoded image."""
    pairs: dict[float, list[BenchmarkPair]] = {scale: [] for scale in scales}
    for hr_path in hr_files(set_dir):
        hr = load_rgb_tensor(hr_path)
        for scale, scale_pairs in pairs.items():
            scale_pairs.append(_pair(set_dir, hr_path, hr, scale, use_lr_files=True))
    return pairs
