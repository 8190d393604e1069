"""Shared-map scale: UMAP fit time at 10k (and 50k) points and transform time for 1k new points.

Synthetic CLIP-like embeddings (512-d, unit norm, 50 clusters). The first fit of a process
JIT-compiles umap/pynndescent; a warm-up fit on 500 points runs first and is reported apart.

    .venv/bin/python benchmarks/curator_scale.py            # 10k and 50k
    .venv/bin/python benchmarks/curator_scale.py --sizes 10000
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic(n: int, dim: int = 512, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    data = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


def fit(data: np.ndarray):
    """The same UMAP settings as ``curator.shared_map`` (defaults of ``MapConfig``)."""
    import umap

    model = umap.UMAP(n_components=2, metric="cosine", n_neighbors=15, min_dist=0.1,
                      random_state=0, n_jobs=1)  # fmt: skip
    return model, model.fit_transform(data)


def main() -> None:
    """Print one line per size: fit seconds, transform seconds for 1k new points, goal."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    args = parser.parse_args()
    start = time.perf_counter()
    warm_model, _ = fit(synthetic(500, seed=1))
    warm_model.transform(synthetic(50, seed=2))
    print(f"warm-up (JIT compile + 500-point fit + transform): {time.perf_counter() - start:.1f} s")
    print(f"{'points':>8} {'fit s':>8} {'transform 1k s':>15} {'fit goal (10k <= 30 s)':>24}")
    for n in args.sizes:
        data = synthetic(n + 1000, seed=n)
        start = time.perf_counter()
        model, _ = fit(data[:n])
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        model.transform(data[n:])
        transform_s = time.perf_counter() - start
        goal = ("met" if fit_s <= 30 else "missed") if n == 10_000 else "-"
        print(f"{n:>8} {fit_s:>8.1f} {transform_s:>15.2f} {goal:>24}")


if __name__ == "__main__":
    main()
