"""Fixed-size batches vs the variable-batch multi-scale sampler, at the same compute budget.

Both runs train the same small LIIF-EDSR from scratch for the same number of steps on the same
images (``skimage.data`` pictures of 256 px or more, in a temp folder), with the same LR
pixels and query pixels per step: fixed 48x48 patches at batch B, or a patch side drawn per
step from {32, 40, 48, 56, 64} with the batch scaled by (48 / p)^2. Prints training time,
patches/s, LR megapixels/s and final validation PSNR (held-out images, x2-x6) side by side.

    .venv/bin/python benchmarks/sr_sampler.py [--steps 150] [--batch 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from sr.models.liif import LIIFConfig
from sr.run_layout import VAL_LOG
from sr.training.config import DataConfig, OptimConfig, SamplerConfig, TrainConfig, ValConfig
from sr.training.distributed import ProcessInfo
from sr.training.logs import CsvLog
from sr.training.loop import Trainer
from sr.training.skimage_pictures import write_sample_images

MIN_SIDE = 256  # 64 px patches at x4: both runs train on the same images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = TrainConfig(
        model=LIIFConfig(n_resblocks=4, n_feats=32, hidden_list=(64, 64, 64)),
        data=DataConfig(repeat=50, val_fraction=0.25),
        optim=OptimConfig(batch_size=args.batch, lr=2e-4),
        val=ValConfig(every=10**9, scales=(2.0, 3.0, 4.0, 6.0), crop=240, at_start=False),
        init="none",
        max_steps=args.steps,
        checkpoint_every=10**9,
        log_every=10,
    )
    variable = SamplerConfig(enabled=True, patch_sizes=(32, 40, 48, 56, 64), batch_multiple=1)
    info = ProcessInfo(0, 1, torch.device("cpu"))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_sample_images(data, min_side=MIN_SIDE)
        for name, cfg in (
            ("fixed 48x48", base),
            ("variable 32-64", replace(base, sampler=variable)),
        ):
            trainer = Trainer(cfg, data, Path(tmp) / name.split()[0], info, show_progress=False)
            plan = trainer.planner
            stamps = [time.perf_counter()]
            trainer.fit(on_step=lambda _s, acc=stamps: acc.append(time.perf_counter()))
            # the last step also ran the final validation: time the steps before it only
            train_s = (stamps[-2] - stamps[0]) * args.steps / (args.steps - 1)
            val = CsvLog(trainer.run / VAL_LOG, []).rows()[-1]
            patches = sum(plan.plan(s).per_rank for s in range(args.steps))
            lr_px = sum(
                plan.plan(s).per_rank * plan.plan(s).lr_patch ** 2 for s in range(args.steps)
            )
            rows[name] = (train_s, patches / train_s, lr_px / train_s / 1e6, val)
    print(f"{args.steps} steps, base batch {args.batch}, {args.threads} thread(s), same LR px/step")
    header = f"{'sampler':<16} {'train s':>7} {'patches/s':>10} {'LR Mpx/s':>9}"
    scales = [k for k in next(iter(rows.values()))[3] if k.startswith("psnr_x")]
    print(header + "".join(f" {s[5:]:>7}" for s in scales) + f" {'mean':>7}")
    for name, (wall, pps, mpx, val) in rows.items():
        cells = "".join(f" {float(val[s]):7.3f}" for s in scales)
        print(
            f"{name:<16} {wall:7.1f} {pps:10.2f} {mpx:9.3f}{cells} {float(val['psnr_mean']):7.3f}"
        )


if __name__ == "__main__":
    main()
