"""Fast LIIF decoding vs the literal reference, side by side on the same inputs.

For x2, x4 and x8 it upscales the same image with (a) ``sr``'s tiled fast path and (b) the
straightforward paper method (``reference_batched_predict``: whole feature map unfolded, a 580-wide
MLP input per query and neighbour, 30000-query chunks as in the official evaluation). Each run is a
fresh subprocess so its peak RSS is its own, and rounds of (reference, fast) processes are
interleaved. Prints each method's best output megapixels/s and peak RSS, the speed-up, the speed-up
of every round and the largest difference between the two outputs; then this machine's GEMM rate
at the decoder's shape, the decoder MLP's rate with reused buffers vs fresh outputs, and the share
of the GEMM rate the fast path reaches in the decoder layers that remain.

    .venv/bin/python benchmarks/sr_speed.py [--out-side 512] [--repeats 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

WORKER = r"""
import json, resource, sys, time
import numpy as np, torch
from PIL import Image
import skimage.data
from sr.coords import make_cell, make_coord
from sr.inference import upscale_tensor
from sr.models.liif_reference import reference_batched_predict
from sr.weights import load_model

method, scale, out_side, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
side = out_side // scale
img = Image.fromarray(skimage.data.astronaut()).resize((side, side), Image.BICUBIC)
x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255
model = load_model("official")
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out_hw = (out_side, out_side)

def run():
    if method == "fast":
        return upscale_tensor(model, x, out_hw)
    coord = make_coord(out_hw).unsqueeze(0)
    cell = make_cell(out_hw, coord.shape[1]).unsqueeze(0)
    return reference_batched_predict(model, x.unsqueeze(0), coord, cell)[0].t().reshape(3, *out_hw)

best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    with torch.no_grad():
        out = run()
    best = min(best, time.perf_counter() - start)
torch.save(out, sys.argv[5])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": best, "peak_rss_mb": peak,
                  "base_rss_mb": base_rss / 1024, "threads": torch.get_num_threads()}))
"""


GEMM = r"""
import json, time, torch
from sr.models.liif import LIIF, Scratch
torch.set_grad_enabled(False)


def rate(fn, flop, n):
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return flop * n / (time.perf_counter() - start) / 1e9


a, b = torch.randn(4096, 256), torch.randn(256, 256)
gemm = rate(lambda: torch.mm(a, b), 2 * 4096 * 256 * 256, 300)
# The decoder's layers after the first, on one default block (4 neighbours x 4096 queries), once
# with a fresh output tensor per layer and once into reused buffers as sr.inference does.
model, scratch = LIIF(), Scratch()
h1 = torch.randn(4, 4096, 256)
mlp_flop = 2 * h1.numel() // 256 * (3 * 256 * 256 + 256 * 3)
fresh = rate(lambda: model.finish_mlp(h1), mlp_flop, 20)
reused = rate(lambda: model.finish_mlp(h1, scratch), mlp_flop, 20)
print(json.dumps({"gflops": gemm, "mlp_fresh": fresh, "mlp_reused": reused}))
"""
# Multiply-adds per output pixel that no exact method can skip: 4 ensemble neighbours, each
# through the official decoder's three 256x256 hidden layers and its 256x3 output layer.
DECODER_MACS_PER_PIXEL = 4 * (3 * 256 * 256 + 256 * 3)


METHODS = ("reference", "fast")


def gemm_rates() -> dict[str, float]:
    """GFLOP/s of a float32 GEMM at the decoder's shape and of the decoder's MLP, fresh process."""
    out = subprocess.run([sys.executable, "-c", GEMM], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(method: str, scale: int, out_side: int, repeats: int, out_file: str) -> dict:
    """Run one configuration in a fresh interpreter and return its timings."""
    result = subprocess.run(
        [sys.executable, "-c", WORKER, method, str(scale), str(out_side), str(repeats), out_file],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-side", type=int, default=512, help="output is out-side x out-side")
    parser.add_argument("--repeats", type=int, default=2, help="best of N runs per process")
    parser.add_argument(
        "--rounds", type=int, default=3, help="fresh reference + fast processes per scale"
    )
    parser.add_argument("--scales", default="2,4,8")
    args = parser.parse_args()
    import torch

    mp = args.out_side**2 / 1e6
    print(
        f"output {args.out_side}x{args.out_side} ({mp:.2f} MP); best of {args.repeats} runs "
        f"per process, {args.rounds} rounds of (reference, fast) processes, interleaved"
    )
    scales = [int(s) for s in args.scales.split(",")]
    runs: dict[tuple[int, str], list[dict]] = {(s, m): [] for s in scales for m in METHODS}
    with tempfile.TemporaryDirectory() as tmp:
        diffs = {}
        # Interleaved rounds, so a slow spell on this shared machine hits both methods alike.
        for _ in range(args.rounds):
            for scale in scales:
                for method in METHODS:
                    out_file = f"{tmp}/{method}{scale}.pt"
                    runs[scale, method].append(
                        measure(method, scale, args.out_side, args.repeats, out_file)
                    )
                ref, fast = (torch.load(f"{tmp}/{m}{scale}.pt") for m in METHODS)
                diffs[scale] = (ref - fast).abs().max().item()
    print(
        f"{'scale':>5} {'method':>9} {'MP/s':>8} {'seconds':>8} {'peak RSS MB':>12} "
        f"{'speed-up':>9} {'max |diff|':>11}   speed-up per round"
    )
    fast_seconds = {}
    for scale in scales:
        best = {m: min(runs[scale, m], key=lambda r: r["seconds"]) for m in METHODS}
        fast_seconds[scale] = best["fast"]["seconds"]
        per_round = " ".join(
            f"{r['seconds'] / f['seconds']:.2f}"
            for r, f in zip(runs[scale, "reference"], runs[scale, "fast"], strict=True)
        )
        for name, r in best.items():
            ratio = best["reference"]["seconds"] / r["seconds"]
            print(
                f"x{scale:<4} {name:>9} {mp / r['seconds']:8.3f} {r['seconds']:8.2f} "
                f"{r['peak_rss_mb']:12.0f} {ratio:8.2f}x "
                f"{diffs[scale] if name == 'fast' else 0:11.2e}"
                + (f"   {per_round}" if name == "fast" else "")
            )
    fast = best["fast"]
    print(f"torch threads per run: {fast['threads']}")
    rates = gemm_rates()
    peak = rates["gflops"]
    print(f"float32 GEMM 4096x256x256 on this machine: {peak:.0f} GFLOP/s")
    print(
        f"decoder MLP on one 4x4096-query block: {rates['mlp_reused']:.0f} GFLOP/s into reused "
        f"buffers, {rates['mlp_fresh']:.0f} GFLOP/s with fresh outputs "
        f"({rates['mlp_reused'] / rates['mlp_fresh']:.2f}x)"
    )
    for scale, seconds in fast_seconds.items():
        # whole-run time (encoder and blending included), so this is a lower bound
        rate = 2 * DECODER_MACS_PER_PIXEL * args.out_side**2 / seconds / 1e9
        print(
            f"x{scale}: fast path >= {rate:.0f} GFLOP/s in the unavoidable decoder layers "
            f"= {rate / peak:.0%} of that GEMM rate"
        )


if __name__ == "__main__":
    main()
