"""The shared 2-D map: UMAP (cosine) fitted on image embeddings, prompts placed on top.

Stable across rounds: the fitted model is kept in ``map/``; later images are placed with its
``transform`` so existing points never move, until ``refit=True``. Coordinates live in the
catalog (``map_coords``) so readers never recompute them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from curator.embeddings import embed_texts, get_encoder, image_embeddings, prompt_embeddings
from curator.errors import CuratorError
from curator.placement import place_at_centroid, place_by_similarity
from curator.workspace import Workspace

MODEL_FILE = "umap.pkl"
STATE_FILE = "state.json"
MIN_UMAP_POINTS = 5  # below this a PCA layout is used and refitted once there are enough
Progress = Callable[[int, int], None]
# Generic captions that estimate the mean of CLIP's text cone (see curator.placement).
REFERENCE_CAPTIONS = tuple(
    f"a photo of {thing}"
    for thing in (
        "a person", "an animal", "a building", "a landscape", "food", "a car", "a plant",
        "a street", "an object", "text", "a texture", "the sky", "water", "a room", "a face",
        "a city at night", "a painting", "a cartoon", "a microscope image", "the moon",
    )
)  # fmt: skip


@dataclass(frozen=True)
class MapReport:
    """What ``update_map`` did."""

    fitted: bool
    fit_id: str
    images_placed: int
    prompts_placed: int
    total_images: int


@dataclass(frozen=True)
class MapPoint:
    """A point of the map as stored in the catalog."""

    kind: str  # "image" | "prompt"
    id: int
    x: float
    y: float
    source: str | None
    round: int | None
    status: str | None
    prompt_id: int | None
    flags: tuple[str, ...]


class _PcaLayout:
    """Layout for fewer than ``MIN_UMAP_POINTS`` images: the top-2 principal axes."""

    def __init__(self, data: np.ndarray) -> None:
        self.mean = data.mean(axis=0)
        _, _, vt = np.linalg.svd(data - self.mean, full_matrices=False)
        self.axes = np.zeros((2, data.shape[1]))
        self.axes[: min(2, len(vt))] = vt[:2]

    def transform(self, data: np.ndarray) -> np.ndarray:
        return (data - self.mean) @ self.axes.T


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


def _fit(data: np.ndarray, ws: Workspace) -> tuple[object, np.ndarray]:
    if len(data) < MIN_UMAP_POINTS:
        model = _PcaLayout(data)
        return model, model.transform(data)
    import umap

    cfg = ws.config.map
    data = np.ascontiguousarray(data, dtype=np.float32)
    n_neighbors = max(2, min(cfg.n_neighbors, len(data) - 1))
    indices, distances = exact_cosine_knn(data, data, n_neighbors)
    model = umap.UMAP(
        n_components=2,
        metric="cosine",
        n_neighbors=n_neighbors,
        min_dist=cfg.min_dist,
        random_state=cfg.seed,
        n_jobs=1,  # a seed makes UMAP single-threaded anyway; saying so avoids a warning
        init="spectral" if len(data) > 16 else "random",  # spectral init needs a few points
        precomputed_knn=(indices, distances, ExactCosineIndex(data)),
        force_approximation_algorithm=True,  # use the kNN graph above at every size
        n_epochs=None if len(data) <= 5000 else 200,  # UMAP's own choice above 10k points
    )
    with warnings.catch_warnings():
        # UMAP warns that a search index other than NNDescent cannot transform; ours can:
        # transform only calls ``query`` (tests/curator/test_map.py places later rounds).
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        coords = model.fit_transform(data)
    return model, np.asarray(coords, dtype=np.float64)


def _state(ws: Workspace) -> dict | None:
    path = ws.map_dir / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _save_model(ws: Workspace, model: object, state: dict) -> None:
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    state = {**state, "sha256": hashlib.sha256(blob).hexdigest()}
    for name, data in ((MODEL_FILE, blob), (STATE_FILE, json.dumps(state).encode())):
        tmp = ws.map_dir / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, ws.map_dir / name)


def _load_model(ws: Workspace, state: dict) -> object:
    blob = (ws.map_dir / MODEL_FILE).read_bytes()
    # Only a file this workspace wrote is unpickled: its hash is recorded beside it.
    if hashlib.sha256(blob).hexdigest() != state.get("sha256"):
        raise CuratorError(
            f"{ws.map_dir / MODEL_FILE}: does not match {STATE_FILE}; run map --refit"
        )
    return pickle.loads(blob)  # noqa: S301


def _place_prompts(ws: Workspace, fit_id: str) -> int:
    conn = ws.connect()
    try:
        coords = {
            r["item_id"]: (r["x"], r["y"])
            for r in conn.execute("SELECT item_id, x, y FROM map_coords WHERE kind = 'image'")
        }
        prompt_rows = conn.execute("SELECT id FROM prompts ORDER BY id").fetchall()
        owners = conn.execute("SELECT id, prompt_id FROM images WHERE prompt_id IS NOT NULL")
        by_prompt: dict[int, list[int]] = {}
        for r in owners:
            by_prompt.setdefault(r["prompt_id"], []).append(r["id"])
    finally:
        conn.close()
    prompt_ids = [r["id"] for r in prompt_rows]
    if not prompt_ids or not coords:
        return 0
    encoder = get_encoder(ws)
    if encoder.supports_text:
        ids, images = image_embeddings(ws, list(coords))
        ids_with = [i for i in ids if i in coords]
        _, texts = prompt_embeddings(ws)
        reference = embed_texts(ws, list(REFERENCE_CAPTIONS))
        text_mean = np.concatenate([reference, texts]).mean(axis=0)
        positions = place_by_similarity(
            texts,
            images,
            np.array([coords[i] for i in ids_with], dtype=np.float64),
            text_mean=text_mean,
            k=ws.config.map.prompt_neighbors,
            temperature=ws.config.map.prompt_temperature,
        )
    else:
        groups = [
            np.array([coords[i] for i in by_prompt.get(p, []) if i in coords]).reshape(-1, 2)
            for p in prompt_ids
        ]
        positions = place_at_centroid(groups)
    placed = [
        (p, float(x), float(y), fit_id)
        for p, (x, y) in zip(prompt_ids, positions, strict=True)
        if np.isfinite(x) and np.isfinite(y)
    ]
    with ws.transaction() as conn:
        conn.execute("DELETE FROM map_coords WHERE kind = 'prompt'")
        conn.executemany(
            "INSERT INTO map_coords (kind, item_id, x, y, fit_id) VALUES ('prompt', ?, ?, ?, ?)",
            placed,
        )
    return len(placed)


def update_map(
    ws: Workspace, *, refit: bool = False, progress: Progress | None = None
) -> MapReport:
    """Fit (first time, ``refit``, or after a tiny first fit) or extend the map; place prompts."""
    ids, data = image_embeddings(ws)
    state = _state(ws)
    encoder = ws.config.embedding.encoder
    if not ids:
        return MapReport(False, state["fit_id"] if state else "", 0, 0, 0)
    must_fit = (
        refit
        or state is None
        or state.get("encoder") != encoder
        or (state["n_fit"] < MIN_UMAP_POINTS and len(ids) >= MIN_UMAP_POINTS)
    )
    conn = ws.connect()
    try:
        placed = {r[0] for r in conn.execute("SELECT item_id FROM map_coords WHERE kind='image'")}
    finally:
        conn.close()
    if must_fit:
        model, coords = _fit(data, ws)
        fit_id = uuid.uuid4().hex[:12]
        _save_model(ws, model, {"fit_id": fit_id, "encoder": encoder, "n_fit": len(ids)})
        rows, fitted = list(zip(ids, coords, strict=True)), True
    else:
        fit_id = state["fit_id"]
        new = [k for k, i in enumerate(ids) if i not in placed]
        rows, fitted = [], False
        if new:
            coords = _load_model(ws, state).transform(data[new])
            rows = [(ids[k], c) for k, c in zip(new, np.asarray(coords), strict=True)]
    with ws.transaction() as conn:
        if fitted:
            conn.execute("DELETE FROM map_coords WHERE kind = 'image'")
        conn.executemany(
            "INSERT OR REPLACE INTO map_coords (kind, item_id, x, y, fit_id)"
            " VALUES ('image', ?, ?, ?, ?)",
            [(i, float(c[0]), float(c[1]), fit_id) for i, c in rows],
        )
    if progress is not None:
        progress(len(ids), len(ids))
    prompts = _place_prompts(ws, fit_id)
    return MapReport(fitted, fit_id, len(rows), prompts, len(ids))


def map_points(ws: Workspace) -> list[MapPoint]:
    """Every stored point (images, then prompts), read from the catalog."""
    conn = ws.connect()
    try:
        flags: dict[int, list[str]] = {}
        for r in conn.execute("SELECT image_id, flag FROM flags ORDER BY flag"):
            flags.setdefault(r["image_id"], []).append(r["flag"])
        images = conn.execute(
            "SELECT m.item_id, m.x, m.y, i.source, i.round, i.status, i.prompt_id FROM map_coords m"
            " JOIN images i ON i.id = m.item_id WHERE m.kind = 'image' ORDER BY m.item_id"
        ).fetchall()
        prompts = conn.execute(
            "SELECT item_id, x, y FROM map_coords WHERE kind = 'prompt' ORDER BY item_id"
        ).fetchall()
    finally:
        conn.close()
    points = [
        MapPoint(
            "image", r["item_id"], r["x"], r["y"], r["source"], r["round"], r["status"],
            r["prompt_id"], tuple(flags.get(r["item_id"], ())),
        )
        for r in images
    ]  # fmt: skip
    points += [
        MapPoint("prompt", r["item_id"], r["x"], r["y"], None, None, None, r["item_id"], ())
        for r in prompts
    ]
    return points


def fitted_model_path(ws: Workspace) -> Path:
    """Where the fitted map model lives."""
    return ws.map_dir / MODEL_FILE


def flag_names(point: MapPoint) -> set[str]:
    """Names of the quality flags a map point carries."""
    flags = point.flags or ()
    return set(flags.keys() if isinstance(flags, dict) else flags)


def filter_points(points: Sequence[MapPoint], filters: dict[str, list]) -> list[MapPoint]:
    """Image points whose round/source/status are in the chosen lists and that carry the flag."""
    flag = filters.get("flag")
    kept = []
    for p in points:
        if p.kind != "image":
            continue
        if any(
            filters.get(f) and getattr(p, f) not in filters[f]
            for f in ("round", "source", "status")
        ):
            continue
        if flag and flag not in flag_names(p):
            continue
        kept.append(p)
    return kept
