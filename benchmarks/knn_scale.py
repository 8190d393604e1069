"""kNN graph for the map at scale: exact search vs FAISS IVF, FAISS HNSW and pynndescent.

``ivf`` queries every point through FAISS; ``ivf-lists`` is what the map fit uses: the same
index, searched list by list with one matrix product per list (``IvfCosineIndex.data_graph``).

    .venv/bin/python benchmarks/knn_scale.py [--sizes 100000] [--methods exact ivf hnsw nndescent]

For each size, synthetic 512-d unit embeddings (``benchmarks/curator_scale.synthetic``: 50
clusters, the "easy" set; and 2,000 looser clusters, the "hard" set, closer to real CLIP
embeddings) get the 15-neighbour graph the map fit needs (every point queried). Prints the time
to build the index and query every point, and recall@15 against exact search on 1,000 sampled
points. Each method runs in this process one after the other (numba and FAISS compile or start
their thread pools on first use: a 2,000-point warm-up of each runs first).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.curator_scale import synthetic  # noqa: E402
from curator.knn import IvfCosineIndex, exact_cosine_knn  # noqa: E402

K = 15
SAMPLE = 1000


def graph_exact(data: np.ndarray) -> np.ndarray:
    """Exact neighbours of every point (chunked matrix products)."""
    return exact_cosine_knn(data, data, K)[0]


def graph_ivf(data: np.ndarray) -> np.ndarray:
    """The map's IVF index (curator.knn), then every point queried."""
    return IvfCosineIndex.build(data).query(data, K)[0]


def graph_ivf_lists(data: np.ndarray) -> np.ndarray:
    """The map's IVF index, then its own graph list by list (what the map fit uses)."""
    return IvfCosineIndex.build(data).data_graph(K)[0]


def graph_hnsw(data: np.ndarray) -> np.ndarray:
    """FAISS HNSW (M 32, efConstruction 80, efSearch 64), inner product."""
    import faiss

    index = faiss.IndexHNSWFlat(data.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(data)
    index.hnsw.efSearch = 64
    return index.search(data, K)[1]


def graph_nndescent(data: np.ndarray) -> np.ndarray:
    """pynndescent as UMAP runs it by default (cosine, seeded, so one thread)."""
    from pynndescent import NNDescent

    return NNDescent(data, metric="cosine", n_neighbors=K, random_state=0, n_jobs=1).neighbor_graph[
        0
    ]


METHODS = {
    "exact": graph_exact,
    "ivf": graph_ivf,
    "ivf-lists": graph_ivf_lists,
    "hnsw": graph_hnsw,
    "nndescent": graph_nndescent,
}


def hard(n: int) -> np.ndarray:
    """Many loose clusters: neighbours are much less obvious than in ``synthetic``."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(2000, 512))
    rows = centres[rng.integers(0, 2000, n)] + 1.0 * rng.normal(size=(n, 512))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    warm = synthetic(2000)
    for name in args.methods:
        METHODS[name](warm)
    print(f"{'data':<5} {'points':>8} {'method':<10} {'seconds':>8} {'recall@15':>10}")
    for n in args.sizes:
        for label, data in (("easy", synthetic(n)), ("hard", hard(n))):
            sample = np.random.default_rng(0).choice(n, min(SAMPLE, n), replace=False)
            truth = exact_cosine_knn(data[sample], data, K)[0]
            for name in args.methods:
                start = time.perf_counter()
                graph = METHODS[name](data)
                seconds = time.perf_counter() - start
                found = graph[sample]
                pairs = zip(found, truth, strict=True)
                recall = np.mean([len(set(a) & set(b)) / K for a, b in pairs])
                print(f"{label:<5} {n:>8} {name:<10} {seconds:>8.1f} {recall:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
