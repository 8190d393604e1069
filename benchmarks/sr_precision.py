"""bf16 against fp32 inference: speed side by side, and what it costs in PSNR on Set5/Set14.

Speed: the official weights upscale the same picture (scikit-image's astronaut, resized so the
output is ``--out-side`` square) at x2, x4 and x8 in fp32 and in bf16, in interleaved rounds in
one process, at each thread count; the best round of each is compared. Quality: ``sr eval``'s
protocol (Y-PSNR, shave = scale) on Set5 and Set14 at x2/x3/x4 in both precisions. The target
(issue 16) is bf16 >= 1.6x fp32 within 0.02 dB.

    .venv/bin/python benchmarks/sr_precision.py [--out-side 768] [--rounds 3] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import skimage.data
import torch
from PIL import Image

from sr.evaluate import evaluate_set
from sr.inference import upscale_tensor
from sr.weights import load_model

PRECISIONS = ("fp32", "bf16")


def speed(models: dict, out_side: int, scale: int, rounds: int) -> dict[str, float]:
    """Best output megapixels/s of each precision over interleaved rounds."""
    side = out_side // scale
    img = Image.fromarray(skimage.data.astronaut()).resize((side, side), Image.BICUBIC)
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255
    best = {name: float("inf") for name in models}
    for model in models.values():  # warm-up: oneDNN picks its kernels on the first call
        upscale_tensor(model, x, (out_side, out_side))
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            upscale_tensor(model, x, (out_side, out_side))
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: out_side**2 / 1e6 / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-side", type=int, default=768)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--benchmarks", default=os.environ.get("SR_BENCHMARKS", "../shared/benchmarks")
    )
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    models = {name: load_model("official", precision=name) for name in PRECISIONS}
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2-core machine)")
    print("| threads | scale | fp32 MP/s | bf16 MP/s | bf16 / fp32 |")
    print("|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for scale in (2, 4, 8):
            rate = speed(models, args.out_side, scale, args.rounds)
            ratio = rate["bf16"] / rate["fp32"]
            print(
                f"| {threads} | x{scale} | {rate['fp32']:.3f} | {rate['bf16']:.3f} | {ratio:.2f}x |"
            )
    if args.skip_quality:
        return
    torch.set_num_threads(max(args.threads))
    print("\n| set | scale | fp32 PSNR | bf16 PSNR | bf16 - fp32 (dB) |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for set_name in ("Set5", "Set14"):
        for scale in (2.0, 3.0, 4.0):
            psnr = {
                name: evaluate_set(model, Path(args.benchmarks) / set_name, scale).psnr
                for name, model in models.items()
            }
            diff = psnr["bf16"] - psnr["fp32"]
            worst = max(worst, abs(diff))
            cells = f"{psnr['fp32']:.4f} | {psnr['bf16']:.4f} | {diff:+.4f}"
            print(f"| {set_name} | x{scale:g} | {cells} |")
    print(f"\nlargest |bf16 - fp32|: {worst:.4f} dB (target <= 0.02)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
