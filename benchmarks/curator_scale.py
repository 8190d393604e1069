"""Shared-map scale: UMAP fit time, placing new points, and peak memory, by number of points.

Synthetic CLIP-like embeddings (512-d, unit norm, 50 clusters). The first fit of a process
JIT-compiles umap/pynndescent; a warm-up fit on 500 points runs first and is reported apart.

    .venv/bin/python benchmarks/curator_scale.py                          # 10k and 50k
    .venv/bin/python benchmarks/curator_scale.py --sizes 10000 --reference  # vs plain UMAP
    .venv/bin/python benchmarks/curator_scale.py --sizes 1000000 --place 10000 --cold  # at scale

Above ``curator.knn.EXACT_MAX`` points the fit's neighbours come from the FAISS IVF index.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np


def synthetic(n: int, dim: int = 512, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    labels = rng.integers(0, clusters, n)
    out = np.empty((n, dim), dtype=np.float32)
    # In pieces: the same numbers as one draw, without a float64 copy of everything (4 GB at 1M)
    for start in range(0, n, 1 << 16):
        stop = min(n, start + (1 << 16))
        rows = centres[labels[start:stop]] + 0.6 * rng.normal(size=(stop - start, dim))
        out[start:stop] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def fit(data: np.ndarray, ws):
    """The map fit exactly as ``curator map`` does it (``curator.shared_map._fit``)."""
    from curator.shared_map import _fit

    return _fit(data, ws)


def pynndescent_fit(data: np.ndarray):
    """Reference: plain UMAP with its default approximate kNN (pynndescent), same settings."""
    import umap

    epochs = None if len(data) <= 5000 else 200
    model = umap.UMAP(n_components=2, metric="cosine", n_neighbors=15, min_dist=0.1,
                      random_state=0, n_jobs=1, n_epochs=epochs)  # fmt: skip
    return model, model.fit_transform(data)


def main() -> None:
    """Print one line per size: fit and 1k-transform seconds, curator vs plain UMAP."""
    import tempfile

    from curator.workspace import init_workspace

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--reference", action="store_true", help="also time plain UMAP")
    parser.add_argument("--only-reference", action="store_true", help="time plain UMAP only")
    parser.add_argument("--place", type=int, default=1000, help="new points placed after a fit")
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up: the first fit pays the JIT compile, as "
        "a fresh `curator map` process does",
    )  # fmt: skip
    args = parser.parse_args()
    ws = init_workspace(Path(tempfile.mkdtemp()) / "ws", encoder="efficientnet-lite0")
    methods = [] if args.only_reference else [("curator", lambda d: fit(d, ws))]
    if args.reference or args.only_reference:
        methods.append(("umap + pynndescent", pynndescent_fit))
    if not args.cold:
        start = time.perf_counter()
        for _, method in methods:
            warm, _ = method(synthetic(5000, seed=1))
            warm.transform(synthetic(50, seed=2))
        print(f"warm-up (JIT compile, 5k fits + transforms): {time.perf_counter() - start:.1f} s")
    # the label first, then only numbers: the row format benchmarks/side_by_side.py compares
    header = ("method, neighbours, points", "fit s", f"place {args.place} s", "peak RSS GB")
    print("{:<40} {:>7} {:>12} {:>11}".format(*header))
    for n in args.sizes:
        data = synthetic(n + args.place, seed=n)
        for name, method in methods:
            start = time.perf_counter()
            model, _ = method(data[:n])
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            model.transform(data[n:])
            place_s = time.perf_counter() - start
            index = getattr(getattr(model, "_knn_search_index", None), "kind", "nndescent")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
            label = f"{name} {index} n={n}"
            print(f"{label:<40} {fit_s:>7.1f} {place_s:>12.2f} {peak:>11.2f}", flush=True)


if __name__ == "__main__":
    main()
