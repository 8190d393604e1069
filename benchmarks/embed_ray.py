"""Embedding throughput: one process vs Ray Data actors, on the same workspace images.

    .venv/bin/python benchmarks/embed_ray.py [--images 200] [--cpus 2]

Ingests ``--images`` pictures (scikit-image crops, each shifted so every file differs) into two
workspaces with the offline encoder (efficientnet-lite0), embeds one in this process (torch with
``--cpus`` threads) and the other with ``curator embed --ray`` on a local Ray of ``--cpus`` CPUs
(one single-threaded actor per CPU), and prints images/s of each, Ray's start-up apart, and the
largest difference between the two sets of features.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curator.embeddings import embed_images, image_embeddings  # noqa: E402
from curator.ingest import ingest_paths  # noqa: E402
from curator.workspace import init_workspace  # noqa: E402
from sr.training.skimage_pictures import picture_rgb  # noqa: E402

PICTURES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")


def write_images(folder: Path, count: int, side: int = 224) -> None:
    """``count`` distinct crops of the scikit-image pictures."""
    folder.mkdir(parents=True)
    for i in range(count):
        rgb = picture_rgb(PICTURES[i % len(PICTURES)])
        top, left = (i // len(PICTURES)) % 64, (i // len(PICTURES)) // 64
        Image.fromarray(rgb[top : top + side, left : left + side]).save(folder / f"{i:05d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    import ray
    import torch

    torch.set_num_threads(args.cpus)
    with tempfile.TemporaryDirectory() as tmp:
        write_images(Path(tmp) / "in", args.images)
        spaces = {}
        for name in ("process", "ray"):
            ws = init_workspace(Path(tmp) / name, encoder="efficientnet-lite0")
            ingest_paths(ws, [Path(tmp) / "in"])
            spaces[name] = ws
        start = time.perf_counter()
        embed_images(spaces["process"])
        alone = time.perf_counter() - start
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        started = time.perf_counter() - start
        start = time.perf_counter()
        embed_images(spaces["ray"], ray=True)
        on_ray = time.perf_counter() - start
        ray.shutdown()
        _, a = image_embeddings(spaces["process"])
        _, b = image_embeddings(spaces["ray"])
    print(f"{args.images} images, efficientnet-lite0, {args.cpus} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"one process ({args.cpus} torch threads): {args.images / alone:.1f} images/s")
    print(f"Ray Data ({args.cpus} actors x 1 thread): {args.images / on_ray:.1f} images/s "
          f"(+ {started:.1f} s to start Ray)")  # fmt: skip
    print(f"largest feature difference: {np.abs(a - b).max():.2e}")


if __name__ == "__main__":
    main()
