"""The README's crop of the clip-art experiment: bicubic | official | fine-tuned | ground truth.

    .venv/bin/python benchmarks/domain_picture.py --work DIR [--out docs/domain-crop.png]

Reads what ``benchmarks/domain_finetune.py`` left in ``DIR`` (``results.json``, the held-out
renders and ``run-curated``). The picture is not chosen for looks: it is the held-out render
whose ×4 gain of the curated fine-tune over the official weights is the median, and in it the
window with the most edges (where upscalers differ; flat white says nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr.benchmark_sets import load_rgb_tensor, make_pair
from sr.inference import upscale_tensor
from sr.weights import load_model

SCALE = 4
WINDOW = 96  # HR pixels of the crop's side
ZOOM = 3  # nearest-neighbour magnification, so single pixels show
LABEL_H = 22


def median_image(per_image: dict[str, dict[str, float]]) -> str:
    """The test image whose curated − official gain at ×4 is the median."""
    gains = {k: per_image["curated"][k] - per_image["official"][k] for k in per_image["official"]}
    ordered = sorted(gains, key=gains.__getitem__)
    return ordered[len(ordered) // 2]


def busiest_window(hr: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left of the ``side`` window with the largest summed gradient magnitude (stride 8)."""
    gray = hr.astype(np.float32).mean(axis=2)
    grad = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    best, where = -1.0, (0, 0)
    for top in range(0, grad.shape[0] - side + 1, 8):
        for left in range(0, grad.shape[1] - side + 1, 8):
            energy = float(grad[top : top + side, left : left + side].sum())
            if energy > best:
                best, where = energy, (top, left)
    return where


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] → ``(H, W, 3)`` uint8, rounded."""
    return (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def panel(tiles: list[tuple[str, np.ndarray]]) -> Image.Image:
    """Tiles side by side, each magnified and labelled above."""
    side = WINDOW * ZOOM
    sheet = Image.new("RGB", (len(tiles) * (side + 4) - 4, side + LABEL_H), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, tile) in enumerate(tiles):
        big = Image.fromarray(tile).resize((side, side), Image.Resampling.NEAREST)
        sheet.paste(big, (i * (side + 4), LABEL_H))
        draw.text((i * (side + 4) + 4, 4), label, fill="black")
    return sheet


def main() -> None:
    """Make the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/domain-crop.png"))
    args = parser.parse_args()
    results = json.loads((args.work / "results.json").read_text())
    per_image = results["per_image_x4"]
    name = median_image(per_image)
    found = [p for p in sorted(args.work.glob("test-*")) if (p / f"{name}.png").is_file()]
    if not found:
        sys.exit(f"error: {args.work}: no test-* folder holds {name}.png (run domain_finetune.py)")
    test_dir = found[0]
    lr, hr = make_pair(load_rgb_tensor(test_dir / f"{name}.png"), SCALE)
    size = tuple(hr.shape[-2:])
    lr_pil = Image.fromarray(to_uint8(lr))
    bicubic = np.asarray(lr_pil.resize(size[::-1], Image.Resampling.BICUBIC))
    models = {"official": "official", "fine-tuned (curated)": args.work / "run-curated"}
    outputs = {k: to_uint8(upscale_tensor(load_model(w), lr, size)) for k, w in models.items()}
    truth = to_uint8(hr)
    top, left = busiest_window(truth, WINDOW)
    cut = lambda a: a[top : top + WINDOW, left : left + WINDOW]  # noqa: E731
    tiles = [("bicubic", cut(bicubic)), *((k, cut(v)) for k, v in outputs.items())]
    tiles.append(("ground truth", cut(truth)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    panel(tiles).save(args.out)
    gain = per_image["curated"][name] - per_image["official"][name]
    print(f"{args.out}: {name} x{SCALE} (median gain {gain:+.2f} dB), window at ({left}, {top})")


if __name__ == "__main__":
    main()
