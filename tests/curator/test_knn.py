"""Approximate neighbours (the FAISS IVF index) against exact search, and its stored form."""

from __future__ import annotations

import numpy as np
import pytest

from curator.knn import (
    ExactCosineIndex,
    IvfCosineIndex,
    cosine_index,
    exact_cosine_knn,
    rebuild_index,
)


def _clustered(n: int, clusters: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, 64))
    rows = centres[rng.integers(0, clusters, n)] + noise * rng.normal(size=(n, 64))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    pairs = zip(found, truth, strict=True)
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in pairs]))


def test_ivf__recall_against_exact_and_true_distances() -> None:
    data = _clustered(6000, clusters=200, noise=0.5)
    index = IvfCosineIndex.build(data)
    found, distances = index.query(data[:500], 15)
    truth, _ = exact_cosine_knn(data[:500], data, 15)
    assert _recall(found, truth) >= 0.9
    assert (found[:, 0] == np.arange(500)).all() and np.allclose(distances[:, 0], 0, atol=1e-5)
    # every distance is the true cosine distance of the row it names, nearest first
    cosine = np.einsum("qd,qkd->qk", data[:500], data[found])
    assert np.allclose(distances, 1 - cosine, atol=1e-5)
    assert (np.diff(distances, axis=1) >= -1e-6).all()


def test_ivf__rebuilt_from_its_arrays_answers_the_same() -> None:
    data = _clustered(3000, clusters=50, noise=0.6, seed=1)
    index = IvfCosineIndex.build(data)
    again = rebuild_index(data, index.kind, index.arrays())
    queries = _clustered(100, clusters=50, noise=0.6, seed=2)
    first, second = index.query(queries, 10), again.query(queries, 10)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_cosine_index__exact_up_to_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _clustered(300, clusters=5, noise=0.5)
    assert isinstance(cosine_index(data), ExactCosineIndex)
    monkeypatch.setattr("curator.knn.EXACT_MAX", 299)
    assert isinstance(cosine_index(data), IvfCosineIndex)


def test_ivf__a_query_whose_lists_hold_too_few_gets_an_exact_answer(monkeypatch) -> None:
    monkeypatch.setattr("curator.knn.TRAIN_PER_LIST", 5)  # 400 points in 80 lists of ~5
    monkeypatch.setattr("curator.knn.NPROBE", 1)
    data = _clustered(400, clusters=20, noise=0.8, seed=3)
    index = IvfCosineIndex.build(data)
    found, distances = index.query(data, 15)  # one list of ~5 cannot give 15
    truth, true_distances = exact_cosine_knn(data, data, 15)
    assert (found >= 0).all()
    assert all(len(set(row)) == 15 for row in found)  # no padding with repeats
    assert np.array_equal(found, truth) and np.allclose(distances, true_distances, atol=1e-6)


def test_ivf_data_graph__recall_true_distances_and_itself_first() -> None:
    data = _clustered(6000, clusters=200, noise=0.5, seed=4)
    found, distances = IvfCosineIndex.build(data).data_graph(15)
    truth, _ = exact_cosine_knn(data, data, 15)
    assert found.shape == (6000, 15) and found.dtype == np.int32
    assert _recall(found, truth) >= 0.95
    assert (found[:, 0] == np.arange(6000)).all() and np.allclose(distances[:, 0], 0, atol=1e-5)
    cosine = np.einsum("qd,qkd->qk", data, data[found])
    assert np.allclose(distances, 1 - cosine, atol=1e-5)
    assert (np.diff(distances, axis=1) >= -1e-6).all()
    assert all(len(set(row)) == 15 for row in found)


def test_ivf_data_graph__lists_with_too_few_candidates_search_everything(monkeypatch) -> None:
    monkeypatch.setattr("curator.knn.TRAIN_PER_LIST", 5)
    monkeypatch.setattr("curator.knn.GRAPH_NPROBE", 1)  # each list searches only itself
    data = _clustered(400, clusters=20, noise=0.8, seed=3)
    found, distances = IvfCosineIndex.build(data).data_graph(15)
    truth, true_distances = exact_cosine_knn(data, data, 15)
    assert np.array_equal(found, truth) and np.allclose(distances, true_distances, atol=1e-6)


def test_exact_data_graph__is_exact_search_of_the_data() -> None:
    data = _clustered(500, clusters=10, noise=0.5, seed=5)
    found, distances = ExactCosineIndex(data).data_graph(15)
    truth, true_distances = exact_cosine_knn(data, data, 15)
    assert np.array_equal(found, truth) and np.array_equal(distances, true_distances)


def test_ivf_data_graph__a_list_in_chunks_gives_the_same_graph(monkeypatch) -> None:
    data = _clustered(2000, clusters=40, noise=0.5, seed=6)
    index = IvfCosineIndex.build(data)
    whole = index.data_graph(10)
    monkeypatch.setattr("curator.knn.GRAPH_CHUNK", 7)  # every list split into many pieces
    pieces = index.data_graph(10)
    assert np.array_equal(whole[0], pieces[0]) and np.allclose(whole[1], pieces[1], atol=1e-6)


def test_ivf__faiss_copy_of_the_data_is_made_only_when_queried() -> None:
    # A map fit reads only the data graph; FAISS's lists (a second copy of the data) wait for
    # the first query, so they never add to the fit's peak memory.
    data = _clustered(3000, clusters=60, noise=0.5)
    index = IvfCosineIndex.build(data)
    index.data_graph(10)
    assert index._index is None
    found, _ = index.query(data[:5], 3)
    assert index._index is not None and (found[:, 0] == np.arange(5)).all()
