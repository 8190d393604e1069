"""How much of a domain fine-tune to keep (``merge_with_init`` α): domain gain vs generic photos.

    make generic-photos      # Debian's plasma-workspace-wallpapers (the photographs among them)
    .venv/bin/python benchmarks/merge_alpha.py RUN --domain VAL_DIR [--alphas 0.3 0.5 0.7 1]
        [--encoder-alphas 0 0.3 0.5]   # the encoder's own α: every pair of the two lists

Takes the trained weights in the newest training state of RUN (the weight average when the run
kept one), before any merge, and for each α evaluates ``start + α·(trained − start)`` at ×4 on
the domain's *validation* folder and on generic photos: 480² centre crops (after a Lanczos resize
of the shorter side to 480) of the photographs among Debian's Plasma wallpapers, which no
training or evaluation here uses. Prints, per α, the PSNR change against the start weights:
the domain mean, and over the photos the median and mean of the per-image changes and how many
improved. The median is the guide for photos: one flat wallpaper can move the mean by itself.

A median also hides the few photos with hard natural edges, which are what a clip-art fine-tune
costs (Set5's butterfly). So the same photos give a second set, ``edges``: from each photo
(shorter side 480), the two non-overlapping 240² tiles of highest mean gradient, judged by their
mean change and their worst one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sr.benchmark_sets import load_pairs  # noqa: E402
from sr.evaluate import evaluate_pairs  # noqa: E402
from sr.training.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402
from sr.training.merge import InitMerge  # noqa: E402
from sr.weights import load_model  # noqa: E402

WALLPAPERS = Path("/usr/share/wallpapers")
# The photographs in plasma-workspace-wallpapers 5.27 (the others are drawn or rendered art).
PHOTOS = (
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
    "Grey", "Kite", "OneStandsOut", "Path", "summer_1am",
)  # fmt: skip
CROP = 480
TILE = 240


def generic_photos(out: Path) -> Path:
    """Write the photo crops to ``out``; a clear error when the package is not installed."""
    out.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        files = sorted((WALLPAPERS / name / "contents" / "images").glob("*"), key=_size)
        if not files:
            sys.exit(f"{WALLPAPERS / name}: missing; run `make generic-photos` first")
        picture = Image.open(files[-1]).convert("RGB")  # the largest rendition
        ratio = CROP / min(picture.size)
        picture = picture.resize(
            (round(picture.width * ratio), round(picture.height * ratio)), Image.LANCZOS
        )
        left, top = (picture.width - CROP) // 2, (picture.height - CROP) // 2
        picture.crop((left, top, left + CROP, top + CROP)).save(out / f"{name}.png")
    return out


def edge_tiles(photos: Path, out: Path, per_photo: int = 2) -> Path:
    """Write each photo's ``per_photo`` most edge-heavy non-overlapping tiles to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(photos.glob("*.png")):
        picture = Image.open(path).convert("RGB")
        luma = np.asarray(picture.convert("L"), dtype=np.float32)
        gradient = np.abs(np.diff(luma, axis=0))[:, :-1] + np.abs(np.diff(luma, axis=1))[:-1]
        tiles = [
            (float(gradient[top : top + TILE, left : left + TILE].mean()), left, top)
            for top in range(0, luma.shape[0] - TILE + 1, TILE // 4)
            for left in range(0, luma.shape[1] - TILE + 1, TILE // 4)
        ]
        chosen: list[tuple[int, int]] = []
        for _, left, top in sorted(tiles, reverse=True):
            if all(abs(left - x) >= TILE or abs(top - y) >= TILE for x, y in chosen):
                chosen.append((left, top))
            if len(chosen) == per_photo:
                break
        for index, (left, top) in enumerate(chosen):
            tile = picture.crop((left, top, left + TILE, top + TILE))
            tile.save(out / f"{path.stem}-{index}.png")
    return out


def _size(path: Path) -> int:
    return path.stat().st_size


def trained_weights(run: Path) -> dict[str, torch.Tensor]:
    """The newest state's trained weights: the average (``ema``) if kept, else ``model``."""
    steps = list_checkpoints(run)
    if not steps:
        sys.exit(f"{run}: no training state (checkpoints/step-*.state.pt)")
    _, state = load_checkpoint(run, steps[-1])
    weights = state.get("ema") or state["model"]
    return {name.removeprefix("module."): tensor for name, tensor in weights.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--domain", type=Path, required=True, help="domain validation images")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.3, 0.5, 0.6, 0.7, 0.85, 1])
    parser.add_argument(
        "--encoder-alphas", type=float, nargs="+", help="the encoder's own α (default: as --alphas)"
    )
    parser.add_argument("--start", default="official", help="the weights the run started from")
    parser.add_argument("--scale", type=float, default=4.0)
    args = parser.parse_args()
    torch.set_num_threads(2)

    start = load_model(args.start)
    trained = load_model(args.start)
    trained.load_state_dict(trained_weights(args.run))
    with tempfile.TemporaryDirectory() as tmp:
        photos = generic_photos(Path(tmp) / "photos")
        sets = {
            "domain": load_pairs(args.domain, [args.scale])[args.scale],
            "photos": load_pairs(photos, [args.scale])[args.scale],
            "edges": load_pairs(edge_tiles(photos, Path(tmp) / "edges"), [args.scale])[args.scale],
        }

    def scores(alpha: float, encoder: float | None = None) -> dict[str, dict[str, float]]:
        model = InitMerge(start, alpha, encoder).of(trained)  # exactly what sr train saves
        return {
            name: evaluate_pairs(model, pairs, name, args.scale).per_image
            for name, pairs in sets.items()
        }

    base = scores(0.0)
    print(f"{args.run} vs {args.start}, ×{args.scale:g}, PSNR change in dB (Y channel)")
    print(
        f"{'α':>5} | encoder α | domain mean | photos median | photos mean | photos improved"
        " | edges mean | edges worst"
    )
    pairs = [(a, e) for a in args.alphas for e in (args.encoder_alphas or [a])]
    for alpha, encoder in pairs:
        result = scores(alpha, encoder)
        domain = np.mean([result["domain"][k] - base["domain"][k] for k in base["domain"]])
        photos = np.array([result["photos"][k] - base["photos"][k] for k in base["photos"]])
        edges = np.array([result["edges"][k] - base["edges"][k] for k in base["edges"]])
        print(
            f"{alpha:>5.2f} | {encoder:>9.2f} | {domain:>+11.3f} | {np.median(photos):>+13.3f} | "
            f"{photos.mean():>+11.3f} | {int((photos > 0).sum()):>7}/{len(photos)} | "
            f"{edges.mean():>+10.3f} | {edges.min():>+11.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
