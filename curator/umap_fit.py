"""The map's UMAP model: fitted from its kNN graph without copying the data, rebuilt from arrays.

``umap.UMAP.fit`` indexes its input with a list of every row (``X[index]``) before it builds the
fuzzy graph and again before the layout: each is a full copy, and the second lives through the
whole optimisation (2 GB of embeddings at 1M x 512). The map already has its neighbours
(``curator.knn``), so ``fit_umap`` runs UMAP's own two steps on the embeddings in place — the
fuzzy simplicial set of the kNN graph, then its layout (``umap.umap_.fuzzy_simplicial_set`` and
``simplicial_set_embedding``) — and sets the fitted state ``transform`` reads, the same state
``umap_from_state`` sets for a model loaded from disk. ``tests/curator/test_umap_fit.py`` checks
that coordinates and later placements equal ``UMAP(precomputed_knn=…).fit_transform`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# UMAP constructor settings that change what ``transform`` computes (stored with the model).
UMAP_PARAMS = (
    "n_neighbors", "min_dist", "random_state", "n_epochs", "local_connectivity",
    "repulsion_strength", "negative_sample_rate", "transform_seed", "learning_rate",
)  # fmt: skip


@dataclass(frozen=True)
class UmapSettings:
    """What the map sets of UMAP's options; the rest are UMAP's defaults."""

    n_neighbors: int
    min_dist: float
    seed: int
    n_epochs: int | None  # None: UMAP's own choice (500 up to 10k points, else 200)
    init: str  # "spectral" | "random"
    # The layout's SGD on every core (numba threads): ~1.8x faster on 2 cores, but the result
    # then depends on thread timing, so the same seed no longer gives the same map bit for bit.
    parallel: bool = False

    def new_model(self):
        """An unfitted ``umap.UMAP`` with these settings."""
        return new_umap(
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            random_state=self.seed,
            init=self.init,
            n_epochs=self.n_epochs,
        )


def new_umap(**params):
    """An unfitted ``umap.UMAP`` for the map (cosine, 2-D) with ``params``; fit or load sets its
    fitted state (``fit_umap``, ``umap_from_state``)."""
    import umap

    # n_jobs=1: transform's own layout stays seeded and single-threaded (fit_umap sets parallel)
    return umap.UMAP(n_components=2, metric="cosine", n_jobs=1, **params)


def fit_umap(
    data: np.ndarray, indices: np.ndarray, distances: np.ndarray, index, settings: UmapSettings
) -> tuple[object, np.ndarray]:
    """Fit the map on unit rows ``data`` whose kNN graph is ``indices``/``distances``.

    ``index`` (``curator.knn``) answers the neighbour queries of later ``transform`` calls.
    The graph arrays are modified in place, as ``UMAP.fit`` does with a precomputed graph.
    Returns the fitted ``umap.UMAP`` and the ``(N, 2)`` float32 coordinates.
    """
    from sklearn.utils import check_random_state
    from umap import distances as umap_distances
    from umap.umap_ import (
        DISCONNECTION_DISTANCES,
        find_ab_params,
        fuzzy_simplicial_set,
        simplicial_set_embedding,
    )

    data = np.ascontiguousarray(data, dtype=np.float32)  # as UMAP.fit's check_array: the hash
    model = settings.new_model()
    random_state = check_random_state(settings.seed)
    far = distances >= DISCONNECTION_DISTANCES["cosine"]  # opposite vectors share no edge
    indices[far], distances[far] = -1, np.inf
    graph = fuzzy_simplicial_set(
        data, model.n_neighbors, random_state, "cosine", {}, indices, distances,
        set_op_mix_ratio=model.set_op_mix_ratio, local_connectivity=model.local_connectivity,
    )[0]  # fmt: skip
    a, b = find_ab_params(model.spread, model.min_dist)
    embedding, _ = simplicial_set_embedding(
        data, graph, 2, model.learning_rate, a, b, model.repulsion_strength,
        model.negative_sample_rate, model.n_epochs, model.init, random_state,
        umap_distances.named_distances["cosine"], {}, False, {}, False,
        umap_distances.named_distances_with_gradients["euclidean"], {}, True,
        parallel=settings.parallel, tqdm_kwds={"disable": True},
    )  # fmt: skip
    # A point the graph left without edges has no place: NaN, as UMAP's own fit marks it.
    embedding[np.asarray(graph.sum(axis=1)).ravel() == 0] = np.nan
    fitted = {
        "a": float(a),
        "b": float(b),
        "initial_alpha": float(model.learning_rate),
        "disconnection_distance": float(DISCONNECTION_DISTANCES["cosine"]),
        "n_neighbors_used": int(model.n_neighbors),
        "input_hash": input_hash(data),
    }
    umap_from_state(model, data, embedding, fitted, index)
    return model, embedding


def input_hash(data: np.ndarray) -> str:
    """The digest ``transform`` compares to recognise the training data (UMAP's: joblib)."""
    import joblib

    return str(joblib.hash(data))


def fitted_state(model) -> dict:
    """The fitted values ``umap_from_state`` sets, read back from a fitted model (JSON-ready)."""
    return {
        "a": float(model._a),
        "b": float(model._b),
        "initial_alpha": float(model._initial_alpha),
        "disconnection_distance": float(model._disconnection_distance),
        "n_neighbors_used": int(model._n_neighbors),
        "input_hash": str(model._input_hash),
    }


def umap_from_state(model, raw: np.ndarray, embedding: np.ndarray, fitted: dict, index) -> None:
    """Set on the unfitted ``model`` the fitted state that ``transform`` reads."""
    model._raw_data = raw
    model.embedding_ = embedding
    model._a, model._b = np.float64(fitted["a"]), np.float64(fitted["b"])
    model._initial_alpha = fitted["initial_alpha"]
    model._disconnection_distance = fitted["disconnection_distance"]
    model._n_neighbors = fitted["n_neighbors_used"]
    model._input_hash = fitted["input_hash"]
    model._small_data = False  # the fit always used the kNN graph
    model._sparse_data = False
    model._knn_search_index = index
    model._metric_kwds = {}
    model._output_metric_kwds = {}
    model.tqdm_kwds = {"disable": True}
