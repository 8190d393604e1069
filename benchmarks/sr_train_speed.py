"""Training-step throughput: the fast path vs a straightforward implementation of the paper's step.

Both run the same full training step (forward, L1 loss, backward, Adam) of LIIF-EDSR at the
paper's settings (48x48 LR patches, 2304 queries per patch, batch 16 by default) on the same
random batches, each in a fresh subprocess so its peak RSS is its own.

- fast: channels-last encoder, the decoder's first layer as a per-code 3x3 convolution gathered
  per query, one flat MLP over all neighbours (``LIIF.query_rgb``, which inference shares).
- straightforward: NCHW encoder, unfolded feature map gathered per query and neighbour, 580-wide
  MLP input (``sr.models.liif_reference``), as the official training code does.
- fast-bf16: the fast path under bf16 autocast (``precision: bf16``; fp32 weights and Adam).
- each path's arithmetic per step (GFLOP forward and backward, torch's FlopCounterMode) and the
  ratio of the two: the speed-up that the same work at equal efficiency would give.
- ``--breakdown`` adds the straightforward decoder behind the channels-last encoder, to show
  what each change contributes.

Rounds of (straightforward, fast, fast-bf16) processes are interleaved, so a change in the
machine's load hits every path alike; each round's speed-ups are printed, then the best rates.

    .venv/bin/python benchmarks/sr_train_speed.py [--batch 16] [--steps 3] [--threads 1] \
        [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from sr.precision import cpu_has_bf16

WORKER = r"""
import json, resource, sys, time
import torch
from sr.models.liif import LIIF, LIIFConfig
from sr.models.liif_reference import reference_query_rgb
from sr.precision import autocast
from sr.training.step import TrainForward, per_sample_l1

mode, batch, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = LIIF(LIIFConfig()).train()
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
if mode == "breakdown":
    def forward(inp, coord, cell):
        return reference_query_rgb(model, model.gen_feat(inp), coord, cell)
else:
    forward = TrainForward(model, fast=mode.startswith("fast"))
precision = "bf16" if mode == "fast-bf16" else "fp32"
gen = torch.Generator().manual_seed(1)
def make_batch():
    inp = torch.rand(batch, 3, 48, 48, generator=gen)
    coord = torch.rand(batch, 2304, 2, generator=gen) * 2 - 1
    cell = torch.full((batch, 2304, 2), 2 / 120)
    return inp, coord, cell, torch.rand(batch, 2304, 3, generator=gen)
batches = [make_batch() for _ in range(steps + 1)]
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times, losses = [], []
for i, (inp, coord, cell, gt) in enumerate(batches):
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with autocast(precision, "cpu"):
        pred = forward(inp, coord, cell)
    loss = per_sample_l1(pred, gt).mean()
    loss.backward()
    opt.step()
    if i:  # the first step warms up allocators and oneDNN kernels
        times.append(time.perf_counter() - t)
    losses.append(float(loss))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
weight_sum = float(sum(p.double().sum() for p in model.parameters()))
# the step's arithmetic (forward and backward, no optimizer step), after timing: counting
# slows the operators it counts
from torch.utils.flop_counter import FlopCounterMode
inp, coord, cell, gt = batches[0]
with FlopCounterMode(display=False) as counter, autocast(precision, "cpu"):
    per_sample_l1(forward(inp, coord, cell), gt).mean().backward()
print(json.dumps({"steps_per_s": len(times) / sum(times), "peak_mb": peak / 1024,
                  "step_mb": (peak - base_rss) / 1024, "losses": losses,
                  "weight_sum": weight_sum, "gflop": counter.get_total_flops() / 1e9}))
"""


def run(mode: str, args: argparse.Namespace) -> dict:
    """One mode in a fresh interpreter."""
    cmd = [sys.executable, "-c", WORKER, mode, str(args.batch), str(args.steps), str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args()
    modes = ["straightforward", *(["breakdown"] if args.breakdown else []), "fast"]
    if cpu_has_bf16():
        modes.append("fast-bf16")
    print(
        f"LIIF-EDSR training step, batch {args.batch} x 48x48 LR, 2304 queries/patch, "
        f"{args.threads} thread(s), {args.steps} timed steps, {args.rounds} interleaved rounds; "
        f"load average {os.getloadavg()[0]:.2f} (2-core machine)"
    )
    rounds: list[dict[str, dict]] = []
    for i in range(args.rounds):
        rounds.append({m: run(m, args) for m in modes})
        rate = {m: r["steps_per_s"] for m, r in rounds[-1].items()}
        ups = ", ".join(f"{m} {rate[m] / rate['straightforward']:.2f}x" for m in modes[1:])
        print(f"round {i + 1}: speed-up over straightforward: {ups}", flush=True)
    results = {m: max((r[m] for r in rounds), key=lambda r: r["steps_per_s"]) for m in modes}
    base = results["straightforward"]
    print("best of the rounds:")
    print(
        f"{'path':<34} {'steps/s':>9} {'patches/s':>10} {'peak RSS MB':>12} {'GFLOP/step':>11}"
        f" {'speed-up':>9}"
    )
    names = {
        "straightforward": "straightforward (paper code)",
        "breakdown": "channels-last enc + literal dec",
        "fast": "fast (sr.training)",
        "fast-bf16": "fast, bf16 autocast",
    }
    for mode, r in results.items():
        print(
            f"{names[mode]:<34} {r['steps_per_s']:9.3f} {r['steps_per_s'] * args.batch:10.2f} "
            f"{r['peak_mb']:12.0f} {r['gflop']:11.1f}"
            f" {r['steps_per_s'] / base['steps_per_s']:8.2f}x"
        )
    # Same arithmetic at the same efficiency would run at the FLOP ratio: an exact fp32 path
    # gains more only where the straightforward one wastes time on memory, not arithmetic.
    bound = base["gflop"] / results["fast"]["gflop"]
    print(f"arithmetic ratio straightforward / fast (FLOPs per step, fwd + bwd): {bound:.2f}x")
    drift = max(abs(a - b) for a, b in zip(results["fast"]["losses"], base["losses"], strict=True))
    print(f"largest loss difference fast vs straightforward over the steps: {drift:.2e}")
    # (bf16's effect on what training reaches is measured on a real fine-tune, docs/training.md:
    # on random targets the loss barely notices the rounding.)


if __name__ == "__main__":
    main()
