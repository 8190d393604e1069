"""The fitted map model on disk as plain arrays and parameters (safetensors), never a pickle.

A workspace may be shared or downloaded; unpickling a file from it could run any code. So the
model is stored as the arrays UMAP's ``transform`` reads (training embeddings, their 2-D
coordinates, the fitted curve parameters) plus JSON parameters, and rebuilt on load: a fresh
``umap.UMAP`` with the same settings, its fitted state set from those arrays.
``tests/curator/test_map_model.py`` checks that the rebuilt model places new points exactly as
the fitted one does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save

from curator.errors import CuratorError
from sr.atomic import write_atomic

FORMAT = "curator-map-model/1"


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
    """Stands in for pynndescent's search index inside a fitted UMAP (used by ``transform``)."""

    _angular_trees = True  # tells UMAP the metric is angular (it picks its search epsilon)

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data, dtype=np.float32)

    def query(self, queries: np.ndarray, k: int, epsilon: float = 0.1):
        """Exact neighbours (``epsilon`` is ignored: there is no approximation)."""
        return exact_cosine_knn(np.asarray(queries, dtype=np.float32), self.data, k)


class PcaLayout:
    """Layout for too few images for UMAP: the top-2 principal axes."""

    def __init__(self, mean: np.ndarray, axes: np.ndarray) -> None:
        self.mean = mean
        self.axes = axes

    @classmethod
    def fit(cls, data: np.ndarray) -> PcaLayout:
        """Principal axes of ``data`` (fewer than two rows or dims leave zero axes)."""
        mean = data.mean(axis=0)
        _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
        axes = np.zeros((2, data.shape[1]))
        axes[: min(2, len(vt))] = vt[:2]
        return cls(mean, axes)

    def transform(self, data: np.ndarray) -> np.ndarray:
        """``(N, D)`` → ``(N, 2)``."""
        return (data - self.mean) @ self.axes.T


# UMAP constructor settings that change what ``transform`` computes.
_UMAP_PARAMS = (
    "n_neighbors", "min_dist", "random_state", "n_epochs", "local_connectivity",
    "repulsion_strength", "negative_sample_rate", "transform_seed", "learning_rate",
)  # fmt: skip


def _umap_state(model) -> tuple[dict[str, np.ndarray], dict]:
    arrays = {
        "raw_data": np.ascontiguousarray(model._raw_data, dtype=np.float32),
        "embedding": np.ascontiguousarray(model.embedding_, dtype=np.float32),
    }
    params = {name: getattr(model, name) for name in _UMAP_PARAMS}
    fitted = {
        "a": float(model._a),
        "b": float(model._b),
        "initial_alpha": float(model._initial_alpha),
        "disconnection_distance": float(model._disconnection_distance),
        "n_neighbors_used": int(model._n_neighbors),
        "input_hash": str(model._input_hash),
    }
    return arrays, {"kind": "umap", "params": params, "fitted": fitted}


def _rebuild_umap(arrays: dict[str, np.ndarray], meta: dict):
    import umap

    model = umap.UMAP(n_components=2, metric="cosine", n_jobs=1, **meta["params"])
    fitted = meta["fitted"]
    raw = arrays["raw_data"]
    model._raw_data = raw
    model.embedding_ = arrays["embedding"]
    model._a, model._b = np.float64(fitted["a"]), np.float64(fitted["b"])
    model._initial_alpha = fitted["initial_alpha"]
    model._disconnection_distance = fitted["disconnection_distance"]
    model._n_neighbors = fitted["n_neighbors_used"]
    model._input_hash = fitted["input_hash"]
    model._small_data = False  # the fit always used the kNN graph (force_approximation)
    model._sparse_data = False
    model._knn_search_index = ExactCosineIndex(raw)
    model._metric_kwds = {}
    model._output_metric_kwds = {}
    model.tqdm_kwds = {"disable": True}
    return model


def save_map_model(path: Path, model: object) -> None:
    """Write ``model`` (fitted UMAP or ``PcaLayout``) to ``path`` atomically, as safetensors."""
    if isinstance(model, PcaLayout):
        arrays = {"mean": np.asarray(model.mean), "axes": np.asarray(model.axes)}
        meta: dict = {"kind": "pca"}
    else:
        arrays, meta = _umap_state(model)
    blob = save(arrays, metadata={"format": FORMAT, "model": json.dumps(meta)})
    write_atomic(path, blob)


def load_map_model(path: Path) -> object:
    """Rebuild the model ``save_map_model`` wrote; one clear error if it is missing or corrupt."""
    try:
        arrays = load_file(path)
        with safe_open(path, framework="numpy") as handle:
            header = handle.metadata() or {}
        if header.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        meta = json.loads(header["model"])
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        raise CuratorError(
            f"{path}: map model missing or unreadable ({exc}); run `curator map --refit`"
        ) from None
    if meta["kind"] == "pca":
        return PcaLayout(arrays["mean"], arrays["axes"])
    return _rebuild_umap(arrays, meta)
