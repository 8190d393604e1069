"""Neighbours in embedding space: "find similar", near-duplicate groups, and domain outliers.

dHash (the ingest's ``near_duplicate`` flag) compares 9x8 thumbnails, which fails on clip art:
white backgrounds make unrelated drawings collide and a 20-px shift hides a copy. Embeddings
see content: on the clip-art pool of benchmarks/domain_finetune.py, shifted or rescaled copies
have cosine ≥ 0.978 to their original with efficientnet-lite0, while the median clean image's
nearest neighbour is at 0.72.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curator.embeddings import image_embeddings
from curator.errors import CuratorError
from curator.map_model import exact_cosine_knn
from curator.workspace import Workspace

NEAR_DUPLICATE_COSINE = 0.975


@dataclass(frozen=True)
class Neighbour:
    """An image and its cosine similarity to the query."""

    id: int
    cosine: float


def similar_images(ws: Workspace, image_id: int, k: int = 12) -> list[Neighbour]:
    """The ``k`` images most similar to ``image_id`` (most similar first, itself excluded)."""
    ids, data = image_embeddings(ws)
    if image_id not in ids:
        raise CuratorError(f"image #{image_id} has no embedding yet (run `curator embed`)")
    query = data[ids.index(image_id)][None]
    index, distance = exact_cosine_knn(query, data, min(k + 1, len(ids)))
    found = [Neighbour(ids[i], float(1 - d)) for i, d in zip(index[0], distance[0], strict=True)]
    return [n for n in found if n.id != image_id][:k]


def near_duplicate_groups(
    ws: Workspace, min_cosine: float = NEAR_DUPLICATE_COSINE, neighbours: int = 8
) -> list[list[int]]:
    """Groups of images linked by cosine ≥ ``min_cosine``, the one to keep first (the most pixels,
    then the oldest), the rest by the same order.

    Links come from each image's ``neighbours`` nearest images; groups are their connected
    components, so a chain of close variants is one group.
    """
    ids, data = image_embeddings(ws)
    if len(ids) < 2:
        return []
    index, distance = exact_cosine_knn(data, data, min(neighbours + 1, len(ids)))
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (row, dist) in enumerate(zip(index, distance, strict=True)):
        for j, d in zip(row, dist, strict=True):
            if j != i and 1 - d >= min_cosine:
                parent[root(i)] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i, image_id in enumerate(ids):
        groups.setdefault(root(i), []).append(image_id)
    pixels = _pixel_counts(ws)
    # the keeper first: the most pixels is the best SR target (a crop or a smaller re-save has
    # fewer); ties go to the oldest image
    ordered = [sorted(g, key=lambda i: (-pixels.get(i, 0), i)) for g in groups.values()]
    return sorted((g for g in ordered if len(g) > 1), key=lambda g: g[0])


def _pixel_counts(ws: Workspace) -> dict[int, int]:
    conn = ws.connect()
    try:
        return {r[0]: r[1] for r in conn.execute("SELECT id, width * height FROM images")}
    finally:
        conn.close()


def centroid_cosine(ws: Workspace, ids: list[int] | None = None) -> dict[int, float]:
    """Each image's cosine to the mean embedding of ``ids`` (default: all): low = off-domain."""
    all_ids, data = image_embeddings(ws)
    if not all_ids:
        return {}
    chosen = data if ids is None else data[[k for k, i in enumerate(all_ids) if i in set(ids)]]
    centre = chosen.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    return {i: float(c) for i, c in zip(all_ids, data @ centre, strict=True)}
