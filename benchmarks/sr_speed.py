"""Fast LIIF decoding vs the literal reference, side by side on the same inputs.

For x2, x4 and x8 it upscales the same image with (a) ``sr``'s tiled fast path and (b) the
straightforward paper method (``reference_batched_predict``: whole feature map unfolded, a 580-wide
MLP input per query and neighbour, 30000-query chunks as in the official evaluation). Each run is a
fresh subprocess so its peak RSS is its own, and rounds of (reference, fast) processes are
interleaved. Prints each method's best output megapixels/s, peak RSS and arithmetic (GFLOP, counted
by torch's FlopCounterMode), the speed-up, the speed-up of every round, the largest difference
between the two outputs and the arithmetic ratio (the speed-up that equal efficiency would give:
what an exact path gains beyond it is the reference's memory traffic); then this machine's GEMM rate
at the decoder's shape, the decoder MLP's rate with reused buffers vs fresh outputs, and the share
of the GEMM rate the fast path reaches in the decoder layers that remain.

    .venv/bin/python benchmarks/sr_speed.py [--out-side 512] [--repeats 2] [--rounds 3]
    .venv/bin/python benchmarks/sr_speed.py --whole-process [--threads 1 2] [--rounds 2]

``--whole-process`` times what a user waits for instead: the wall time of a whole process from
start to saved PNG, at each thread count (``OMP_NUM_THREADS``). The fast side is the
``sr upscale IN -o OUT --scale S`` command; the reference side is a script doing what the
official LIIF demo does (load the model, ``batched_predict`` with 30000-query chunks over the
whole image, save with ToPILImage's truncation to 8 bits). Both load the same converted official
weights. Rounds interleave the two; prints the best wall time of each and the largest difference
between the two saved PNGs in 8-bit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
# the arithmetic of one run, counted after timing (counting slows the operators it counts)
from torch.utils.flop_counter import FlopCounterMode
with FlopCounterMode(display=False) as counter, torch.no_grad():
    run()
print(json.dumps({"seconds": best, "peak_rss_mb": peak, "gflop": counter.get_total_flops() / 1e9,
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

WHOLE_REFERENCE = r"""
import sys
import numpy as np, torch
from PIL import Image
from sr.coords import make_cell, make_coord
from sr.models.liif_reference import reference_batched_predict
from sr.weights import load_model

src, dst, scale = sys.argv[1], sys.argv[2], int(sys.argv[3])
img = Image.open(src).convert("RGB")
x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div(255)
h, w = img.height * scale, img.width * scale
model = load_model("official")
coord = make_coord((h, w)).unsqueeze(0)
cell = make_cell((h, w), coord.shape[1]).unsqueeze(0)
pred = reference_batched_predict(model, x.unsqueeze(0), coord, cell)[0].clamp(0, 1).view(h, w, 3)
Image.fromarray(pred.mul(255).byte().numpy()).save(dst)  # ToPILImage: x255, truncated
"""


def whole_process(argv: list[str], threads: int) -> float:
    """Wall seconds of one whole process, start to exit, with ``threads`` torch threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def whole_process_table(args: argparse.Namespace) -> None:
    """``--whole-process``: reference script vs ``sr upscale``, whole processes, interleaved."""
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sr.training.skimage_pictures import picture_rgb

    scales = [int(s) for s in args.scales.split(",")]
    sr_cli = Path(sys.executable).with_name("sr")
    seconds: dict[tuple, list[float]] = {}
    diffs: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            for threads in args.threads:
                for scale in scales:
                    side = args.out_side // scale
                    src = Path(tmp) / f"in{scale}.png"
                    Image.fromarray(picture_rgb("astronaut")).resize(
                        (side, side), Image.BICUBIC
                    ).save(src)
                    outs = {m: Path(tmp) / f"{m}{scale}.png" for m in METHODS}
                    argvs = {
                        "reference": [sys.executable, "-c", WHOLE_REFERENCE, src, outs["reference"],
                                      str(scale)],
                        "fast": [sr_cli, "upscale", src, "-o", outs["fast"], "--scale", str(scale),
                                 "--quiet"],
                    }  # fmt: skip
                    order = METHODS if round_no % 2 == 0 else METHODS[::-1]
                    for method in order:
                        outs[method].unlink(missing_ok=True)
                        t = whole_process([str(a) for a in argvs[method]], threads)
                        seconds.setdefault((threads, scale, method), []).append(t)
                    pixels = []
                    for method in METHODS:
                        with Image.open(outs[method]) as picture:
                            pixels.append(np.asarray(picture, dtype=np.int16))
                    diffs[scale] = max(
                        diffs.get(scale, 0), int(np.abs(pixels[0] - pixels[1]).max())
                    )
    print(
        f"whole processes, output {args.out_side}x{args.out_side}, best of {args.rounds} "
        "interleaved rounds (wall seconds, start to saved PNG)"
    )
    print(f"{'threads':>7} {'scale':>5} {'reference':>10} {'sr upscale':>11} {'speed-up':>9}"
          f" {'max diff (8-bit)':>17}   speed-up per round")  # fmt: skip
    for threads in args.threads:
        for scale in scales:
            ref, fast = (seconds[threads, scale, m] for m in METHODS)
            rounds = " ".join(f"{r / f:.2f}" for r, f in zip(ref, fast, strict=True))
            print(f"{threads:>7} x{scale:<4} {min(ref):>10.2f} {min(fast):>11.2f} "
                  f"{min(ref) / min(fast):>8.2f}x {diffs[scale]:>17}   {rounds}")  # fmt: skip


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
    parser.add_argument(
        "--whole-process", action="store_true", help="time whole processes (see the docstring)"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="--whole-process")
    args = parser.parse_args()
    if args.whole_process:
        whole_process_table(args)
        return
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
        f"{'GFLOP':>7} {'speed-up':>9} {'max |diff|':>11}   speed-up per round"
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
                f"{r['peak_rss_mb']:12.0f} {r['gflop']:7.1f} {ratio:8.2f}x "
                f"{diffs[scale] if name == 'fast' else 0:11.2e}"
                + (f"   {per_round}" if name == "fast" else "")
            )
        # Equal arithmetic efficiency would give this speed-up; an exact path beats it only
        # where the reference loses time to memory traffic rather than to multiply-adds.
        print(
            f"x{scale:<4} arithmetic ratio reference / fast: "
            f"{best['reference']['gflop'] / best['fast']['gflop']:.2f}x"
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
