"""Fast LIIF decoding vs the literal reference, side by side on the same inputs.

For x2, x4 and x8 it upscales the same image with (a) ``sr``'s tiled fast path and (b) the
straightforward paper method (``reference_batched_predict``: whole feature map unfolded, a 580-wide
MLP input per query and neighbour, 30000-query chunks as in the official evaluation). Each run is a
fresh subprocess so its peak RSS is its own. Prints output megapixels/s, peak RSS, the speed-up and
the largest difference between the two outputs; then this machine's GEMM rate at the
decoder's shape and the share of it the fast path reaches in the decoder layers that remain.

    .venv/bin/python benchmarks/sr_speed.py [--out-side 512] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

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
a, b = torch.randn(4096, 256), torch.randn(256, 256)
for _ in range(5):
    torch.mm(a, b)
n = 300
start = time.perf_counter()
for _ in range(n):
    torch.mm(a, b)
print(json.dumps({"gflops": 2 * 4096 * 256 * 256 * n / (time.perf_counter() - start) / 1e9}))
"""
# Multiply-adds per output pixel that no exact method can skip: 4 ensemble neighbours, each
# through the official decoder's three 256x256 hidden layers and its 256x3 output layer.
DECODER_MACS_PER_PIXEL = 4 * (3 * 256 * 256 + 256 * 3)


def gemm_gflops() -> float:
    """This machine's float32 GEMM rate at the decoder's shape, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", GEMM], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["gflops"]


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
    parser.add_argument("--repeats", type=int, default=2, help="best of N runs per configuration")
    parser.add_argument("--scales", default="2,4,8")
    args = parser.parse_args()
    import torch

    mp = args.out_side**2 / 1e6
    print(f"output {args.out_side}x{args.out_side} ({mp:.2f} MP); best of {args.repeats}")
    print(
        f"{'scale':>5} {'method':>9} {'MP/s':>8} {'seconds':>8} {'peak RSS MB':>12} "
        f"{'speed-up':>9} {'max |diff|':>11}"
    )
    fast_seconds = {}
    for scale in [int(s) for s in args.scales.split(",")]:
        ref = measure("reference", scale, args.out_side, args.repeats, "/tmp/sr_speed_ref.pt")
        fast = measure("fast", scale, args.out_side, args.repeats, "/tmp/sr_speed_fast.pt")
        diff = (
            (torch.load("/tmp/sr_speed_ref.pt") - torch.load("/tmp/sr_speed_fast.pt"))
            .abs()
            .max()
            .item()
        )
        fast_seconds[scale] = fast["seconds"]
        for name, r in (("reference", ref), ("fast", fast)):
            ratio = ref["seconds"] / r["seconds"]
            print(
                f"x{scale:<4} {name:>9} {mp / r['seconds']:8.3f} {r['seconds']:8.2f} "
                f"{r['peak_rss_mb']:12.0f} "
                f"{ratio:8.2f}x {diff if name == 'fast' else 0:11.2e}"
            )
    print(f"torch threads per run: {fast['threads']}")
    peak = gemm_gflops()
    print(f"float32 GEMM 4096x256x256 on this machine: {peak:.0f} GFLOP/s")
    for scale, seconds in fast_seconds.items():
        # whole-run time (encoder and blending included), so this is a lower bound
        rate = 2 * DECODER_MACS_PER_PIXEL * args.out_side**2 / seconds / 1e9
        print(
            f"x{scale}: fast path >= {rate:.0f} GFLOP/s in the unavoidable decoder layers "
            f"= {rate / peak:.0%} of that GEMM rate"
        )


if __name__ == "__main__":
    main()
