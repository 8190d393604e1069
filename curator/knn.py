"""Cosine nearest neighbours of unit vectors: exact up to a size, a FAISS IVF index above it.

The map's kNN graph (and ``transform`` when a later round is placed) needs the k nearest
embeddings of every point. Exact search is chunked matrix products, O(n²·d): the fastest choice
up to some tens of thousands of points on a CPU, and the only one with nothing to tune. Above
``EXACT_MAX`` points an inverted-file index (FAISS ``IndexIVFFlat``, inner product, which is
cosine on unit vectors) scans only the ``nprobe`` lists nearest each query. FAISS was chosen over
pynndescent and FAISS's HNSW by ``benchmarks/knn_scale.py`` (time and recall@15 against exact
search; README "At scale"). An IVF index is fully described by its centroids and which list each
vector is in, so it is stored as those two arrays (safetensors, never a pickle) and rebuilt on
load without training or assigning again.
"""

from __future__ import annotations

import math

import numpy as np
import torch

EXACT_MAX = 50_000  # points; above this the map's graph and placement use the IVF index
NPROBE = 16  # lists scanned per query (benchmarks/knn_scale.py: recall@15 at this setting)
GRAPH_NPROBE = 32  # lists searched per list for the data graph (recall@15 0.95 at 1M, README)
GRAPH_CHUNK = 2048  # members of one list multiplied at once (near-duplicates make big lists)
TRAIN_PER_LIST = 64  # k-means training points per list (FAISS wants 39–256)


def exact_cosine_knn(
    queries: np.ndarray, data: np.ndarray, k: int, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``data`` to each query by cosine distance, nearest first.

    Rows must be unit vectors. Exact, chunked matrix products and ``torch.topk``: at 10k x
    512-d this is several times faster on a CPU than pynndescent's approximate graph
    (benchmarks/curator_scale.py).
    Returns indices ``(Q, k)`` int32 and distances ``(Q, k)`` float32 (1 − cosine, ≥ 0).
    """
    k = min(k, len(data))
    indices = np.empty((len(queries), k), dtype=np.int32)
    distances = np.empty((len(queries), k), dtype=np.float32)
    data_t = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)).T
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    for start in range(0, len(queries), chunk):
        sims = torch.from_numpy(queries[start : start + chunk]) @ data_t
        # torch.topk is ~3x faster than numpy's argpartition + argsort at 50k rows
        top_sims, top = sims.topk(k, dim=1, largest=True, sorted=True)
        indices[start : start + chunk] = top.numpy()
        distances[start : start + chunk] = 1.0 - top_sims.numpy()
    return indices, np.maximum(distances, 0.0)


class ExactCosineIndex:
    """Exact search behind the interface UMAP's ``transform`` calls (``query``)."""

    kind = "exact"
    _angular_trees = True  # tells UMAP the metric is angular (it picks its search epsilon)

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data, dtype=np.float32)

    def query(self, queries: np.ndarray, k: int, epsilon: float = 0.1):
        """Exact neighbours (``epsilon`` is ignored: there is no approximation)."""
        return exact_cosine_knn(np.asarray(queries, dtype=np.float32), self.data, k)

    def data_graph(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Every indexed vector's ``k`` nearest indexed vectors (itself first)."""
        return exact_cosine_knn(self.data, self.data, k)

    def arrays(self) -> dict[str, np.ndarray]:
        """Nothing beyond the data itself."""
        return {}


class IvfCosineIndex:
    """A FAISS ``IndexIVFFlat`` (inner product) over unit vectors, with UMAP's ``query``."""

    kind = "ivf"
    _angular_trees = True

    def __init__(self, data: np.ndarray, centroids: np.ndarray, lists: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.lists = np.ascontiguousarray(lists, dtype=np.int64)
        # Each list's members, in order: filling FAISS's lists and building the data graph.
        self._order = np.argsort(self.lists, kind="stable")
        self._bounds = np.searchsorted(self.lists[self._order], np.arange(len(self.centroids) + 1))
        self._index = None  # FAISS's index, built on the first query (see _faiss_index)

    def _faiss_index(self):
        """The FAISS index, filled directly from the stored assignment (no second k-means pass).

        Built on the first ``query``, not with the index: its lists hold a second copy of the
        data (2 GB at 1M x 512), and a map fit needs only ``data_graph``, which reads the data
        in place. So that copy never coexists with the fit's own working memory.
        """
        if self._index is not None:
            return self._index
        import faiss

        quantizer = faiss.IndexFlatIP(self.data.shape[1])
        quantizer.add(self.centroids)
        index = faiss.IndexIVFFlat(
            quantizer, self.data.shape[1], len(self.centroids), faiss.METRIC_INNER_PRODUCT
        )
        index.is_trained = True
        for list_no in range(len(self.centroids)):
            ids = np.ascontiguousarray(self._members(list_no))
            if len(ids):
                codes = np.ascontiguousarray(self.data[ids])
                index.invlists.add_entries(
                    list_no, len(ids), faiss.swig_ptr(ids), faiss.swig_ptr(codes.view(np.uint8))
                )
        index.ntotal = len(self.data)
        index.nprobe = min(NPROBE, len(self.centroids))
        self._quantizer = quantizer  # the index points into it: keep it alive
        self._index = index
        return index

    def _members(self, list_no: int) -> np.ndarray:
        """Row numbers of the vectors in list ``list_no``."""
        return self._order[self._bounds[list_no] : self._bounds[list_no + 1]]

    @classmethod
    def build(cls, data: np.ndarray, seed: int = 0) -> IvfCosineIndex:
        """Train ``~4·√n`` lists by k-means on a sample, then assign every vector to one."""
        import faiss

        data = np.ascontiguousarray(data, dtype=np.float32)
        n_lists = max(1, min(len(data) // TRAIN_PER_LIST, int(4 * math.sqrt(len(data)))))
        rng = np.random.default_rng(seed)
        sample = data[rng.choice(len(data), min(len(data), n_lists * TRAIN_PER_LIST), False)]
        kmeans = faiss.Kmeans(
            data.shape[1], n_lists, niter=10, seed=seed, spherical=True, verbose=False
        )
        kmeans.train(sample)
        _, lists = kmeans.index.search(data, 1)
        return cls(data, kmeans.centroids, lists[:, 0])

    def query(self, queries: np.ndarray, k: int, epsilon: float = 0.1):
        """Approximate neighbours: indices ``(Q, k)`` int32, distances 1 − cosine, nearest first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, len(self.data))
        sims, indices = self._faiss_index().search(queries, k)
        indices, distances = indices.astype(np.int32), np.maximum(1.0 - sims, 0.0)
        # The lists scanned can hold fewer than k vectors (-1 slots). Those few queries get an
        # exact search: a padded row would add fake neighbours to the map's graph.
        short = np.nonzero((indices < 0).any(axis=1))[0]
        if len(short):
            indices[short], distances[short] = exact_cosine_knn(queries[short], self.data, k)
        return indices, distances.astype(np.float32)

    def data_graph(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Every indexed vector's ``k`` nearest indexed vectors (itself first), approximately.

        The map's kNN graph. Querying every vector through FAISS scans each candidate with a
        vector-by-vector kernel; here all members of one list share their candidates (the
        members of the ``GRAPH_NPROBE`` lists whose centroids are nearest that list's), so each
        list is one matrix product and a top-k: ~5x faster at 100k points for the same recall
        (benchmarks/knn_scale.py). A list with fewer than ``k`` candidates searches everything.
        """
        k = min(k, len(self.data))
        n_lists = len(self.centroids)
        centroids = torch.from_numpy(self.centroids)
        near = (centroids @ centroids.T).topk(min(GRAPH_NPROBE, n_lists), dim=1).indices.numpy()
        data = torch.from_numpy(self.data)
        indices = np.empty((len(self.data), k), dtype=np.int32)
        distances = np.empty((len(self.data), k), dtype=np.float32)
        for list_no in range(n_lists):
            members = self._members(list_no)
            if not len(members):
                continue
            probed = {list_no, *near[list_no].tolist()}  # a list always searches itself
            candidates = np.concatenate([self._members(j) for j in probed])
            if len(candidates) < k:
                candidates = np.arange(len(self.data))
            pool = data[candidates].T
            for start in range(0, len(members), GRAPH_CHUNK):  # one huge list: bounded memory
                rows = members[start : start + GRAPH_CHUNK]
                top_sims, top = (data[rows] @ pool).topk(k, dim=1, largest=True, sorted=True)
                indices[rows] = candidates[top.numpy()]
                distances[rows] = np.maximum(1.0 - top_sims.numpy(), 0.0)
        return indices, distances

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``IvfCosineIndex(data, **arrays)`` needs besides the data."""
        return {"centroids": self.centroids, "lists": self.lists}


def cosine_index(data: np.ndarray, seed: int = 0) -> ExactCosineIndex | IvfCosineIndex:
    """Exact up to ``EXACT_MAX`` points, the IVF index above."""
    if len(data) <= EXACT_MAX:
        return ExactCosineIndex(data)
    return IvfCosineIndex.build(data, seed)


def rebuild_index(data: np.ndarray, kind: str, arrays: dict[str, np.ndarray]):
    """The index ``cosine_index`` made, from its ``kind`` and ``arrays()``."""
    if kind == "ivf":
        return IvfCosineIndex(data, arrays["centroids"], arrays["lists"])
    return ExactCosineIndex(data)
