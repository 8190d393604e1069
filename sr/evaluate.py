"""``sr eval``: PSNR of models on benchmark sets and scales, with the LIIF paper's protocol."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sr.benchmark_sets import BenchmarkPair, hr_files, iter_pairs, load_pairs
from sr.inference import TileSettings, upscale_tensor
from sr.metrics import psnr
from sr.models.liif import LIIF


@dataclass
class EvalResult:
    """Mean PSNR over a set plus the per-image values."""

    set: str
    scale: float
    psnr: float
    images: int
    shave: int
    per_image: dict[str, float] = field(default_factory=dict)
    weights: str = ""  # what ``sr eval --weights`` was given (``official``, a file, a run)

    def to_dict(self) -> dict:
        """Plain dict for JSON output."""
        return asdict(self)


def shave_for(scale: float) -> int:
    """Border shaved before scoring: ``scale`` pixels (rounded up for fractional scales)."""
    return math.ceil(scale)


def evaluate_pairs(
    model: LIIF,
    pairs: Iterable[BenchmarkPair],
    set_name: str,
    scale: float,
    settings: TileSettings = TileSettings(),
    on_image: Callable[[str, float], None] | None = None,
) -> EvalResult:
    """Upscale every LR image of ``pairs`` to its HR size and average Y-channel PSNR."""
    shave = shave_for(scale)
    per_image: dict[str, float] = {}
    for pair in pairs:
        sr = upscale_tensor(model, pair.lr, tuple(pair.hr.shape[-2:]), settings).clamp_(0, 1)
        per_image[pair.name] = psnr(sr, pair.hr, crop_border=shave, test_y_channel=True)
        if on_image is not None:
            on_image(pair.name, per_image[pair.name])
    mean = sum(per_image.values()) / len(per_image)
    return EvalResult(set_name, scale, mean, len(per_image), shave, per_image)


def evaluate_set(
    model: LIIF,
    set_dir: Path,
    scale: float,
    settings: TileSettings = TileSettings(),
    on_image: Callable[[str, float], None] | None = None,
) -> EvalResult:
    """Upscale every LR image of ``set_dir`` to its HR size and average Y-channel PSNR."""
    pairs = iter_pairs(Path(set_dir), scale)
    return evaluate_pairs(model, pairs, Path(set_dir).name, scale, settings, on_image=on_image)


class EvalError(ValueError):
    """An evaluation request that cannot be carried out as given (one line for the user)."""


def evaluate_matrix(
    specs: Sequence[str],
    sets: Sequence[Path],
    scales: Sequence[float],
    load: Callable[[str], LIIF],
    settings: TileSettings = TileSettings(),
    on_result: Callable[[EvalResult], None] | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
    on_image: Callable[[str, float], None] | None = None,
    check: Callable[[str], object] | None = None,
) -> list[EvalResult]:
    """Every checkpoint × set × scale, each model loaded once (``load(spec)``), each set's
    images decoded once; returned in that order (checkpoint, then set, then scale).

    Every set (and with ``check``, e.g. ``resolve_weights``, every checkpoint) is checked before
    any model runs, so a typo fails in seconds, not after an hour. Results are named by the set
    folder's name, so two sets with one name are refused. A checkpoint that ``load`` cannot
    build goes to ``on_error`` (re-raised without one) and the others still run.

    The work runs set by set, so one set's images are in memory at a time (and every model):
    ``on_result`` hears each result as it is done, set by set, which is the returned order
    only for one checkpoint or one set.
    """
    seen: dict[str, Path] = {}
    for folder in map(Path, sets):
        hr_files(folder)  # FileNotFoundError naming the folder
        if folder.name in seen and seen[folder.name].resolve() != folder.resolve():
            raise EvalError(f"two sets named {folder.name!r}: {seen[folder.name]} and {folder}")
        seen[folder.name] = folder
    if check is not None:
        for spec in specs:
            check(spec)
    models: list[tuple[int, str, LIIF]] = []
    for index, spec in enumerate(specs):
        try:
            models.append((index, spec, load(spec)))
        except Exception as exc:  # one bad checkpoint must not hide the others' results
            if on_error is None:
                raise
            on_error(spec, exc)
    cells: dict[tuple[int, int], list[EvalResult]] = {}  # (checkpoint, set) → one per scale
    for set_index, folder in enumerate(map(Path, sets)):
        pairs = load_pairs(folder, scales)  # decoded once for every model and scale
        for index, spec, model in models:
            for scale in scales:
                result = evaluate_pairs(
                    model, pairs[scale], folder.name, scale, settings, on_image=on_image
                )
                result.weights = str(spec)
                cells.setdefault((index, set_index), []).append(result)
                if on_result is not None:
                    on_result(result)
        del pairs  # before the next set is decoded
    return [result for key in sorted(cells) for result in cells[key]]
