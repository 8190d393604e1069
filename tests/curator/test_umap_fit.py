"""fit_umap is UMAP's own fit on the map's kNN graph, without UMAP.fit's copies of the data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import umap

from curator.knn import ExactCosineIndex
from curator.umap_fit import UmapSettings, fit_umap


def _labelled_clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows in four tight, far-apart clusters (the graph has several components), and
    each row's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 24))
    labels = rng.integers(0, 4, n)
    rows = (centres[labels] + 0.15 * rng.normal(size=(n, 24))).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True), labels


def _clusters(n: int, seed: int) -> np.ndarray:
    """The rows of ``_labelled_clusters``."""
    return _labelled_clusters(n, seed)[0]


def _reference(data: np.ndarray, index: ExactCosineIndex, settings: UmapSettings):
    """Plain ``UMAP.fit_transform`` given the same precomputed graph and index."""
    indices, distances = index.data_graph(settings.n_neighbors)
    model = umap.UMAP(
        n_components=2, metric="cosine", n_neighbors=settings.n_neighbors,
        min_dist=settings.min_dist, random_state=settings.seed, n_jobs=1, init=settings.init,
        n_epochs=settings.n_epochs, precomputed_knn=(indices, distances, index),
        force_approximation_algorithm=True,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the custom search index: transform only calls query
        coords = model.fit_transform(data)
    return model, coords


@pytest.mark.parametrize(
    ("n", "init", "n_epochs"),
    [(300, "spectral", None), (120, "random", None), (900, "spectral", 30)],
)
def test_fit_umap__equals_umap_fit_with_the_same_graph(n: int, init: str, n_epochs) -> None:
    data = _clusters(n, seed=n)
    index = ExactCosineIndex(data)
    settings = UmapSettings(n_neighbors=10, min_dist=0.1, seed=3, n_epochs=n_epochs, init=init)
    expected_model, expected = _reference(data, index, settings)
    model, coords = fit_umap(data, *index.data_graph(10), index, settings)
    assert np.array_equal(coords, expected)
    assert np.array_equal(model.embedding_, expected_model.embedding_)
    assert model._input_hash == expected_model._input_hash
    # later rounds are placed the same way too
    queries = _clusters(9, seed=n + 1)
    assert np.array_equal(model.transform(queries), expected_model.transform(queries))
    assert model._raw_data is data  # the embeddings are used in place, never copied


def test_fit_umap__parallel_layout_keeps_the_clusters_apart(ws, monkeypatch) -> None:
    # Big maps lay out on every core (not bit-reproducible): check the layout, not the bits.
    # (Tests pin numba to one thread; the parallel-compiled layout still runs, on that thread.)
    import umap.umap_

    import curator.shared_map as shared_map

    seen = []
    real = umap.umap_.simplicial_set_embedding

    def recording(*args, **kwargs):
        seen.append(kwargs.get("parallel"))
        return real(*args, **kwargs)

    monkeypatch.setattr(shared_map, "PARALLEL_LAYOUT_ABOVE", 100)
    monkeypatch.setattr(umap.umap_, "simplicial_set_embedding", recording)
    data, labels = _labelled_clusters(600, seed=5)
    _, coords = shared_map._fit(data, ws)
    assert seen == [True]  # the layout itself was asked to run in parallel
    assert np.isfinite(coords).all()
    # each point's nearest point on the map is from its own cluster
    d2 = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    assert (labels[d2.argmin(axis=1)] == labels).mean() > 0.98
