"""Shared map: fit, stability across rounds, refit, tiny cases, PNG, prompt placement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curator.catalog import Provenance, set_provenance
from curator.embeddings import embed_images
from curator.map_plot import save_map_png
from curator.placement import centre, place_by_similarity
from curator.prompts import add_prompt
from curator.shared_map import map_points, update_map
from curator.workspace import Workspace, init_workspace


def _coords(ws: Workspace, kind: str = "image") -> dict[int, tuple[float, float]]:
    return {p.id: (p.x, p.y) for p in map_points(ws) if p.kind == kind}


def test_update_map__coords_stored_for_images_and_prompts(mapped_ws: Workspace) -> None:
    images, prompts = _coords(mapped_ws), _coords(mapped_ws, "prompt")
    assert len(images) == 24 and sorted(prompts) == [1, 2]
    assert np.isfinite(np.array(list(images.values()))).all()
    point = next(p for p in map_points(mapped_ws) if p.kind == "image")
    assert point.source == "original" and point.status == "pending" and point.round == 0


def test_update_map__stable_across_rounds_and_refit(
    mapped_ws: Workspace, tmp_path: Path, ingest_set
) -> None:
    before = _coords(mapped_ws)
    new_ids = ingest_set(mapped_ws, tmp_path / "round1", 4, start=100)
    set_provenance(mapped_ws, new_ids, Provenance(round=1))
    embed_images(mapped_ws)
    report = update_map(mapped_ws)
    assert not report.fitted and report.images_placed == 4
    after = _coords(mapped_ws)
    assert {i: after[i] for i in before} == before  # existing points did not move at all
    new = np.array([after[i] for i in new_ids])
    old = np.array(list(before.values()))
    assert np.isfinite(new).all()
    lo, hi = old.min(axis=0), old.max(axis=0)
    span = hi - lo
    assert ((new >= lo - span) & (new <= hi + span)).all()  # placed on the same map
    assert update_map(mapped_ws).images_placed == 0  # nothing new: nothing moves
    refit = update_map(mapped_ws, refit=True)
    assert refit.fitted and refit.images_placed == 28 and refit.fit_id != report.fit_id


def test_update_map__tiny_workspaces(tiny_clip: str, tmp_path: Path, ingest_set) -> None:
    ws = init_workspace(tmp_path / "ws", encoder=tiny_clip)
    assert update_map(ws).total_images == 0 and map_points(ws) == []
    ingest_set(ws, tmp_path / "a", 1)
    embed_images(ws)
    assert update_map(ws).fitted and len(_coords(ws)) == 1
    ingest_set(ws, tmp_path / "b", 2, start=1)
    embed_images(ws)
    report = update_map(ws)
    assert not report.fitted and len(_coords(ws)) == 3
    ingest_set(ws, tmp_path / "c", 3, start=3)
    embed_images(ws)
    assert update_map(ws).fitted  # enough points now: the PCA layout is replaced by UMAP
    assert len(_coords(ws)) == 6


@pytest.mark.parametrize(
    ("color_by", "thumbnails"), [("source", False), ("round", False), ("status", True)]
)
def test_save_map_png__writes_picture(
    mapped_ws: Workspace, tmp_path: Path, color_by: str, thumbnails: bool
) -> None:
    path = save_map_png(mapped_ws, tmp_path / "map.png", color_by=color_by, thumbnails=thumbnails)
    assert (mapped_ws.thumbs_dir / "128").is_dir() == thumbnails
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 300
        assert len({tuple(px) for px in np.asarray(im.convert("RGB")).reshape(-1, 3)[::97]}) > 3


def _gap_case(seed: int = 0):
    """Two image clusters A, B; texts in their own cone; B images carry more of the mean."""
    rng = np.random.default_rng(seed)
    d = 64
    a, b, m_img, m_txt = np.linalg.qr(rng.normal(size=(d, 4)))[0].T
    m_txt = 0.8 * m_img + 0.6 * m_txt  # the text cone leans towards the image mean
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    noise = lambda n: 0.15 * rng.normal(size=(n, d))  # noqa: E731
    images_a = unit(a + 1.0 * m_img + noise(20))
    images_b = unit(b + 3.0 * m_img + noise(20))  # "hub" images: strong mean component
    images = np.concatenate([images_a, images_b])
    coords = np.concatenate([rng.normal(0, 0.5, (20, 2)), rng.normal(0, 0.5, (20, 2)) + 10])
    reference = unit(rng.normal(size=(30, d)) * 0.3 + 3.0 * m_txt)
    texts = unit(np.stack([a, b]) + 3.0 * m_txt)
    return images, coords, texts, reference


def test_place_by_similarity__lands_among_matching_images_despite_gap() -> None:
    images, coords, texts, reference = _gap_case()
    text_mean = np.concatenate([reference, texts]).mean(axis=0)
    placed = place_by_similarity(texts, images, coords, text_mean=text_mean, k=8)
    centroid_a, centroid_b = coords[:20].mean(axis=0), coords[20:].mean(axis=0)
    assert np.linalg.norm(placed[0] - centroid_a) < np.linalg.norm(placed[0] - centroid_b)
    assert np.linalg.norm(placed[1] - centroid_b) < np.linalg.norm(placed[1] - centroid_a)
    # the uncentred alternative fails on this case: prompt A's neighbours are mostly B hubs
    raw = texts @ images.T
    assert (np.argsort(-raw[0])[:8] >= 20).mean() >= 0.75


def test_place_by_similarity__inside_hull_of_neighbours() -> None:
    images, coords, texts, reference = _gap_case(seed=3)
    text_mean = reference.mean(axis=0)
    k = 5
    placed = place_by_similarity(texts, images, coords, text_mean=text_mean, k=k, temperature=0.5)
    sims = centre(texts, text_mean) @ centre(images, images.mean(axis=0)).T
    for p in range(len(texts)):
        neighbours = coords[np.argsort(-sims[p])[:k]]
        assert (placed[p] >= neighbours.min(axis=0) - 1e-9).all()
        assert (placed[p] <= neighbours.max(axis=0) + 1e-9).all()


def test_update_map__fallback_prompt_at_centroid_of_own_images(tmp_path: Path, ingest_set) -> None:
    ws = init_workspace(tmp_path / "ws", encoder="efficientnet-lite0")
    ids = ingest_set(ws, tmp_path / "in", 6)
    p1, p2 = add_prompt(ws, "cats"), add_prompt(ws, "never used")
    set_provenance(ws, ids[:3], Provenance(prompt_id=p1))
    embed_images(ws)
    report = update_map(ws)
    assert report.prompts_placed == 1
    images, prompts = _coords(ws), _coords(ws, "prompt")
    expected = np.mean([images[i] for i in ids[:3]], axis=0)
    np.testing.assert_allclose(prompts[p1], expected, atol=1e-9)
    assert p2 not in prompts


def test_exact_cosine_knn__matches_a_full_sort() -> None:
    from curator.knn import exact_cosine_knn

    rng = np.random.default_rng(3)
    data = rng.standard_normal((300, 16)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[:50]
    indices, distances = exact_cosine_knn(queries, data, k=7, chunk=16)
    for q in range(len(queries)):
        cosine = [float(np.dot(queries[q], row)) for row in data]
        expected = sorted(range(len(data)), key=lambda j: -cosine[j])[:7]
        assert indices[q].tolist() == expected
        assert np.allclose(distances[q], [max(0.0, 1 - cosine[j]) for j in expected], atol=1e-6)
    assert indices[:, 0].tolist() == list(range(50))  # every point is its own nearest


def test_refresh_map__cli_and_api_embed_images_and_prompts_then_map(
    tiny_clip: str, tmp_path: Path, ingest_set
) -> None:
    from curator.cli import main
    from curator.shared_map import refresh_map

    ws = init_workspace(tmp_path / "ws", encoder=tiny_clip)
    ingest_set(ws, tmp_path / "in", 12)
    add_prompt(ws, "a photo of a cat")
    # `curator map` alone (no `curator embed` first) embeds images and prompt texts
    assert main(["map", str(ws.root)]) == 0
    from curator.embeddings import text_hash

    with ws.session() as conn:
        stored = {r[0] for r in conn.execute("SELECT text_hash FROM text_embeddings")}
    assert text_hash("a photo of a cat") in stored
    assert len(_coords(ws)) == 12 and len(_coords(ws, "prompt")) == 1
    again = refresh_map(ws)
    assert (again.images_embedded, again.prompts_embedded) == (0, 0)
    add_prompt(ws, "a rocket on the launch pad")
    ingest_set(ws, tmp_path / "in2", 2, start=12)
    report = refresh_map(ws)
    assert (report.images_embedded, report.prompts_embedded) == (2, 1)
    assert report.map.total_images == 14 and len(_coords(ws, "prompt")) == 2
