"""Peak memory of ``sr upscale`` with default settings, by input size.

Each case runs the real CLI in a fresh process and reports that process's peak RSS, so the number
includes Python, torch (about 0.5 GB on import alone), the model, the decoded input, the tile work,
and the output: one band of rows for PNG/TIFF (written as it is finished), the whole image for
JPEG/WEBP/BMP.

    .venv/bin/python benchmarks/sr_memory.py [--sizes 1024x1024,2048x2048] [--scale 4]
    .venv/bin/python benchmarks/sr_memory.py --sizes 4000x3000 --weights tiny.safetensors

The official model runs at about 20k output pixels per second per CPU core, so 4000x3000 x4
(192 MP) takes hours on a CPU; a small model (``--weights``; e.g. one saved with
``sr.weights.save_model(tests.sr.helpers.tiny_model(), path)``) measures the same buffers in
minutes. Measured on 2 shared CPU cores, one thread, 8-bit PNG of skimage's astronaut resized,
x4, tiny model; "before" held the whole output and encoded it with OpenCV:

    input       output       before           after (streamed)  PNG bytes before / after
    8x8         32x32        -                678 MB     6 s    (the floor: torch + model)
    1024x1024   4096x4096    700 MB    39 s   689 MB    39 s    13,088,591 / 13,070,003
    4000x3000   16000x12000  1363 MB  542 s   751 MB   363 s    106,846,213 / 106,694,053

With the official model (one thread), 1024x1024 x4: 1130 MB in 751 s before, 1087 MB in
872 s after (its tile work adds ~0.4 GB over the tiny model), so 4000x3000 x4 comes to about
1.15 GB streamed against about 1.76 GB before. The streamed files decode to exactly the same
pixels as before.
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


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024x1024,2048x2048", help="input WxH, comma-separated")
    parser.add_argument("--scale", default="4")
    parser.add_argument("--format", default="png", help="output format (png, tif, jpg, ...)")
    parser.add_argument("--weights", default="official", help="as for `sr upscale --weights`")
    args = parser.parse_args()
    sr_bin = str(Path(sys.executable).with_name("sr"))
    print(f"{'input':>11} {'output':>11} {'seconds':>8} {'peak RSS MB':>12} {'file MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in [_size(s) for s in args.sizes.split(",")]:
            src = Path(tmp) / f"in{width}x{height}.png"
            pixels = np.array(
                Image.fromarray(skimage.data.astronaut()).resize((width, height), Image.BICUBIC)
            )
            Image.fromarray(pixels).save(src)
            out = Path(tmp) / f"out{width}x{height}.{args.format}"  # a new file per size
            start = time.perf_counter()
            rss = peak_rss_mb(
                [
                    *(sr_bin, "upscale", str(src), "-o", str(out), "--scale", args.scale),
                    *("--weights", args.weights, "--quiet"),
                ]
            )
            out_w, out_h = round(width * float(args.scale)), round(height * float(args.scale))
            print(
                f"{width:>5}x{height:<5} {out_w:>5}x{out_h:<5} "
                f"{time.perf_counter() - start:8.1f} {rss:12.0f} {out.stat().st_size / 1e6:8.1f}"
            )


if __name__ == "__main__":
    main()
