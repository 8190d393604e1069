"""Where a prompt goes on the image map.

CLIP puts texts and images in two separate cones (the modality gap): a text embedding is far
from every image embedding, and raw text→image cosines carry a shared offset that favours
"hub" images with a strong mean component over the images that match the prompt. So we
(1) centre each modality on its own mean — images on the mean of the workspace's images, texts
on the mean of a reference caption set plus the prompts — and renormalise, which removes both
offsets; (2) take the ``k`` images most similar to the prompt in that centred space; (3) put the
prompt at their softmax(similarity / temperature)-weighted mean 2-D position. The prompt thus
lands among the images that best match it, always inside the convex hull of those neighbours,
and never drives the image map itself (images keep their UMAP coordinates).
"""

from __future__ import annotations

import numpy as np


def centre(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Subtract a modality mean and renormalise rows."""
    shifted = vectors - mean[None, :]
    return shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)


def place_by_similarity(
    texts: np.ndarray,
    images: np.ndarray,
    coords: np.ndarray,
    *,
    text_mean: np.ndarray,
    k: int = 8,
    temperature: float = 0.05,
) -> np.ndarray:
    """2-D positions ``(P, 2)`` of texts ``(P, D)`` among images ``(N, D)`` at ``coords (N, 2)``."""
    if len(images) == 0:
        return np.zeros((len(texts), 2))
    sims = centre(texts, text_mean) @ centre(images, images.mean(axis=0)).T  # (P, N)
    k = min(k, images.shape[0])
    top = np.argsort(-sims, axis=1)[:, :k]
    top_sims = np.take_along_axis(sims, top, axis=1)
    weights = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / temperature)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("pk,pkc->pc", weights, coords[top])


def place_at_centroid(groups: list[np.ndarray]) -> np.ndarray:
    """Image-only encoders: each prompt at the mean position of its own images ``(n_i, 2)``."""
    return np.array([g.mean(axis=0) if len(g) else (np.nan, np.nan) for g in groups])
