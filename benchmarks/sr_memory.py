"""Peak memory of ``sr upscale`` with default settings, by input size.

Each case runs the real CLI in a fresh process and reports that process's peak RSS, so the number
includes Python, torch, the model, the decoded input, the output buffer and the encoder.

    .venv/bin/python benchmarks/sr_memory.py [--sides 1024,2048] [--scale 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak RSS in MB of ``cmd`` (run to completion in its own process)."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="1024,2048", help="input sizes (square)")
    parser.add_argument("--scale", default="4")
    args = parser.parse_args()
    sr_bin = str(Path(sys.executable).with_name("sr"))
    print(f"{'input':>11} {'output':>11} {'seconds':>8} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for side in [int(s) for s in args.sides.split(",")]:
            src = Path(tmp) / f"in{side}.png"
            pixels = np.array(
                Image.fromarray(skimage.data.astronaut()).resize((side, side), Image.BICUBIC)
            )
            Image.fromarray(pixels).save(src)
            start = time.perf_counter()
            rss = peak_rss_mb(
                [
                    sr_bin,
                    "upscale",
                    str(src),
                    "-o",
                    str(Path(tmp) / "out.png"),
                    "--scale",
                    args.scale,
                    "--quiet",
                ]
            )
            out_side = round(side * float(args.scale))
            print(
                f"{side:>5}x{side:<5} {out_side:>5}x{out_side:<5} "
                f"{time.perf_counter() - start:8.1f} {rss:12.0f}"
            )


if __name__ == "__main__":
    main()
