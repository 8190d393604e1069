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
from curator.knn import exact_cosine_knn
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
    """Groups of near-duplicates: a keeper first, then the images within ``min_cosine`` of it.

    Keepers are chosen greedily in order of preference (the most pixels, then the oldest): each
    image not yet grouped claims its ungrouped neighbours (among its ``neighbours`` nearest)
    with cosine ≥ ``min_cosine``. Links are to the keeper itself, not chained: on clip art,
    chains of similar simple shapes joined 24 distinct drawings into one group.
    """
    ids, data = image_embeddings(ws)
    if len(ids) < 2:
        return []
    index, distance = exact_cosine_knn(data, data, min(neighbours + 1, len(ids)))
    pixels = _pixel_counts(ws)
    order = sorted(range(len(ids)), key=lambda k: (-pixels.get(ids[k], 0), ids[k]))
    grouped: set[int] = set()
    groups = []
    for k in order:
        if k in grouped:
            continue
        members = [
            int(j)
            for j, d in zip(index[k], distance[k], strict=True)
            if j != k and int(j) not in grouped and 1 - d >= min_cosine
        ]
        if members:
            # the best of the group keeps it, even one ranked before ``k`` that was left
            # ungrouped because its own neighbours were taken
            group = sorted([k, *members], key=lambda j: (-pixels.get(ids[j], 0), ids[j]))
            grouped.update(group)
            groups.append([ids[j] for j in group])
    return sorted(groups, key=lambda g: g[0])


def _pixel_counts(ws: Workspace) -> dict[int, int]:
    with ws.session() as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT id, width * height FROM images")}


def centroid_cosine(ws: Workspace, ids: list[int] | None = None) -> dict[int, float]:
    """Each image's cosine to the mean embedding of ``ids`` (default: all): low = off-domain."""
    all_ids, data = image_embeddings(ws)
    if not all_ids:
        return {}
    chosen = data if ids is None else data[[k for k, i in enumerate(all_ids) if i in set(ids)]]
    centre = chosen.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    return {i: float(c) for i, c in zip(all_ids, data @ centre, strict=True)}
