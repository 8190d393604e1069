"""A folder batch with and without overlapping file reads and band encodes with the model.

    .venv/bin/python benchmarks/upscale_folder.py [--images 6] [--side 384] [--scale 2]
        [--format PNG] [--rounds 3] [--threads 2]

Writes ``--images`` scikit-image pictures (centre crops of ``--side`` px, as PNG) to a temporary
folder and upscales the folder with ``sr.upscale_batch`` (what ``sr upscale DIR -o OUT`` runs),
overlapped and one step at a time, in interleaved rounds. Prints the wall time of every round,
the best of each and their ratio, and checks that both wrote the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr.training.skimage_pictures import picture_rgb  # noqa: E402
from sr.upscale import Target, plan_outputs  # noqa: E402
from sr.upscale_batch import WRITTEN, BatchOptions, upscale_batch  # noqa: E402
from sr.weights import load_model  # noqa: E402

PICTURES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field",
            "retina", "coins")  # fmt: skip


def write_inputs(folder: Path, count: int, side: int) -> list[tuple[Path, Path]]:
    """``count`` picture crops of ``side`` px as PNG files in ``folder``."""
    inputs = []
    for name in (PICTURES * (count // len(PICTURES) + 1))[:count]:
        rgb = picture_rgb(name)
        top, left = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
        crop = np.ascontiguousarray(rgb[max(top, 0) : max(top, 0) + side, max(left, 0) :][:, :side])
        path = folder / f"{len(inputs):03d}-{name}.png"
        Image.fromarray(crop).save(path)
        inputs.append((path, Path(path.name)))
    return inputs


def digest(folder: Path) -> str:
    """One hash over every file's name and bytes."""
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--side", type=int, default=384)
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--format", default="PNG")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model("official")
    times: dict[bool, list[float]] = {True: [], False: []}
    digests: dict[bool, set[str]] = {True: set(), False: set()}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(Path(tmp), args.images, args.side)
        for round_ in range(args.rounds):
            for overlap in (False, True) if round_ % 2 == 0 else (True, False):
                out = Path(tmp) / f"out-{round_}-{overlap}"
                plans = plan_outputs(inputs, out, args.format)
                options = BatchOptions(Target(scale=(args.scale, args.scale)), args.format,
                                       overlap=overlap)  # fmt: skip
                start = time.perf_counter()
                states = [o.state for o in upscale_batch(model, plans, options)]
                times[overlap].append(time.perf_counter() - start)
                assert states == [WRITTEN] * len(inputs), states
                digests[overlap].add(digest(out))
    load = os.getloadavg()[0]
    print(f"{args.images} images {args.side}px x{args.scale:g} -> {args.format}, "
          f"{args.threads} torch threads, load {load:.1f}")  # fmt: skip
    for overlap, name in ((False, "one step at a time"), (True, "overlapped")):
        rounds = " ".join(f"{t:.2f}" for t in times[overlap])
        print(f"{name:>20}: best {min(times[overlap]):.2f} s (rounds: {rounds})")
    print(
        f"speed-up of overlap: {min(times[False]) / min(times[True]):.3f}x; per round: "
        + " ".join(f"{a / b:.3f}" for a, b in zip(times[False], times[True], strict=True))
    )
    same = digests[True] == digests[False] and len(digests[True]) == 1
    print(f"outputs identical: {same}")


if __name__ == "__main__":
    main()
