"""Embedding throughput: one process vs Ray Data actors, on the same workspace images.

    .venv/bin/python benchmarks/embed_ray.py [--images 200] [--cpus 2] [--rounds 2]

Ingests ``--images`` pictures (scikit-image crops, each shifted so every file differs) into a
fresh workspace per method and round, with the offline encoder (efficientnet-lite0), and embeds
them in this process (torch with ``--cpus`` threads) or with ``embed_images(ray=True)`` on a
local Ray of ``--cpus`` CPUs (one single-threaded actor per CPU), in interleaved rounds. Prints
images/s of each round and the best of each, Ray's start-up apart, and the largest difference
between the two sets of features.
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
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import ray
    import torch

    torch.set_num_threads(args.cpus)
    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    rates: dict[str, list[float]] = {"process": [], "ray": []}
    features: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        write_images(Path(tmp) / "in", args.images)
        for round_ in range(args.rounds):
            order = ("process", "ray") if round_ % 2 == 0 else ("ray", "process")
            for name in order:
                ws = init_workspace(Path(tmp) / f"{name}-{round_}", encoder="efficientnet-lite0")
                ingest_paths(ws, [Path(tmp) / "in"])
                start = time.perf_counter()
                embed_images(ws, ray=name == "ray")
                rates[name].append(args.images / (time.perf_counter() - start))
                features[name] = image_embeddings(ws)[1]
    ray.shutdown()
    print(f"{args.images} images, efficientnet-lite0, {args.cpus} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, label in (("process", f"one process ({args.cpus} torch threads)"),
                        ("ray", f"Ray Data ({args.cpus} actors x 1 thread)")):  # fmt: skip
        rounds = " ".join(f"{r:.1f}" for r in rates[name])
        print(f"{label}: best {max(rates[name]):.1f} images/s (rounds: {rounds})")
    print(f"Ray / one process: {max(rates['ray']) / max(rates['process']):.3f}; "
          f"starting Ray took {started:.1f} s (not counted)")  # fmt: skip
    print(f"largest feature difference: {np.abs(features['process'] - features['ray']).max():.2e}")


if __name__ == "__main__":
    main()
