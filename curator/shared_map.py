"""The shared 2-D map: UMAP (cosine) fitted on image embeddings, prompts placed on top.

Stable across rounds: the fitted model is kept in ``map/fit-ID.safetensors`` (arrays, no pickle:
``curator.map_model``); later images are placed with its ``transform`` so existing points never
move, until ``refit=True``. Coordinates live in the catalog (``map_coords``) so readers never
recompute them, committed together with the id of the fit they belong to.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curator.embeddings import (
    embed_images,
    embed_prompts,
    embed_texts,
    get_encoder,
    image_embeddings,
    prompt_embeddings,
)
from curator.errors import CuratorError
from curator.knn import cosine_index
from curator.map_columns import mark_map_written
from curator.map_model import PcaLayout, load_map_model, save_map_model
from curator.placement import place_at_centroid, place_by_similarity
from curator.umap_fit import UmapSettings, fit_umap
from curator.workspace import LONG_WAIT_S, Workspace, get_meta, set_meta

FIT_META_KEY = "map_fit"
MIN_UMAP_POINTS = 5  # below this a PCA layout is used and refitted once there are enough
# Above this many points the layout runs on every core: a 1M-point fit spends ~2/3 of its time
# there (15 min of 22 on one core). Up to it, a seed gives the same map bit for bit.
PARALLEL_LAYOUT_ABOVE = 50_000
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
class RefreshReport:
    """What ``refresh_map`` did: new embeddings, then the map update."""

    images_embedded: int
    prompts_embedded: int
    map: MapReport


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


def _fit(data: np.ndarray, ws: Workspace) -> tuple[object, np.ndarray]:
    if len(data) < MIN_UMAP_POINTS:
        model = PcaLayout.fit(data)
        return model, model.transform(data)
    cfg = ws.config.map
    data = np.ascontiguousarray(data, dtype=np.float32)
    n_neighbors = max(2, min(cfg.n_neighbors, len(data) - 1))
    index = cosine_index(data, seed=cfg.seed)  # exact, or approximate above knn.EXACT_MAX
    indices, distances = index.data_graph(n_neighbors)
    settings = UmapSettings(
        n_neighbors=n_neighbors,
        min_dist=cfg.min_dist,
        seed=cfg.seed,
        n_epochs=None if len(data) <= 5000 else 200,  # UMAP's own choice above 10k points
        init="spectral" if len(data) > 16 else "random",  # spectral init needs a few points
        parallel=len(data) > PARALLEL_LAYOUT_ABOVE,
    )
    model, coords = fit_umap(data, indices, distances, index, settings)
    return model, np.asarray(coords, dtype=np.float64)


def _model_path(ws: Workspace, fit_id: str) -> Path:
    return ws.map_dir / f"fit-{fit_id}.safetensors"


def current_fit(ws: Workspace) -> dict | None:
    """The fit the stored coordinates belong to (``fit_id``, ``encoder``, ``n_fit``), or None.

    It lives in the catalog and is committed with the coordinates, so a kill between writing a
    new model and committing its coordinates leaves the old fit, its model and its points.
    """
    with ws.session() as conn:
        value = get_meta(conn, FIT_META_KEY)
    return json.loads(value) if value else None


def _remove_superseded_models(ws: Workspace, fit_id: str) -> None:
    """Delete model files of earlier fits (derived files of ours; the catalog no longer names
    them). Older workspaces' pickles (``umap.pkl``) are left alone and never loaded."""
    keep = _model_path(ws, fit_id).name
    for path in ws.map_dir.glob("fit-*.safetensors"):
        if path.name != keep:
            path.unlink(missing_ok=True)


def _place_prompts(ws: Workspace, fit_id: str) -> int:
    with ws.session() as conn:
        coords = {
            r["item_id"]: (r["x"], r["y"])
            for r in conn.execute("SELECT item_id, x, y FROM map_coords WHERE kind = 'image'")
        }
        prompt_rows = conn.execute("SELECT id FROM prompts ORDER BY id").fetchall()
        owners = conn.execute("SELECT id, prompt_id FROM images WHERE prompt_id IS NOT NULL")
        by_prompt: dict[int, list[int]] = {}
        for r in owners:
            by_prompt.setdefault(r["prompt_id"], []).append(r["id"])
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
    """Fit (first time, ``refit``, or after a tiny first fit) or extend the map; place prompts.

    Under the writer lock: two fits at once would delete each other's model file.
    """
    with ws.writer_lock(wait_s=LONG_WAIT_S):
        return _update_map(ws, refit=refit, progress=progress)


def refresh_map(
    ws: Workspace, *, refit: bool = False, progress: Progress | None = None
) -> RefreshReport:
    """Embed new images and prompt texts, then fit or extend the map.

    The one way the CLI, the studio, the sample and generation bring the map up to date, so
    prompts are on it whichever of them ran last. ``progress`` follows the image embedding.
    """
    images = embed_images(ws, progress=progress)
    prompts = embed_prompts(ws)
    return RefreshReport(images, prompts, update_map(ws, refit=refit))


def _update_map(ws: Workspace, *, refit: bool, progress: Progress | None) -> MapReport:
    ids, data = image_embeddings(ws)
    state = current_fit(ws)
    encoder = ws.config.embedding.encoder
    if not ids:
        return MapReport(False, state["fit_id"] if state else "", 0, 0, 0)
    must_fit = (
        refit
        or state is None
        or state.get("encoder") != encoder
        or (state["n_fit"] < MIN_UMAP_POINTS and len(ids) >= MIN_UMAP_POINTS)
    )
    with ws.session() as conn:
        rows_now = conn.execute("SELECT item_id, fit_id FROM map_coords WHERE kind='image'")
        fits_now = {r[0]: r[1] for r in rows_now}
    placed = set(fits_now)
    stale = sum(1 for f in fits_now.values() if state is None or f != state["fit_id"])
    if must_fit:
        model, coords = _fit(data, ws)
        fit_id = uuid.uuid4().hex[:12]
        save_map_model(_model_path(ws, fit_id), model)
        state = {"fit_id": fit_id, "encoder": encoder, "n_fit": len(ids)}
        rows, fitted = list(zip(ids, coords, strict=True)), True
    else:
        fit_id = state["fit_id"]
        if stale:
            raise CuratorError(
                f"{ws.root}: {stale} map point(s) belong to another fit than {fit_id}; "
                "run `curator map --refit`"
            )
        new = [k for k, i in enumerate(ids) if i not in placed]
        rows, fitted = [], False
        if new:
            model = load_map_model(_model_path(ws, fit_id))
            coords = model.transform(data[new])
            rows = [(ids[k], c) for k, c in zip(new, np.asarray(coords), strict=True)]
    with ws.transaction() as conn:  # coordinates and the fit they belong to: one commit
        if fitted:
            conn.execute("DELETE FROM map_coords WHERE kind = 'image'")
            set_meta(conn, FIT_META_KEY, json.dumps(state))
        conn.executemany(
            "INSERT OR REPLACE INTO map_coords (kind, item_id, x, y, fit_id)"
            " VALUES ('image', ?, ?, ?, ?)",
            [(i, float(c[0]), float(c[1]), fit_id) for i, c in rows],
        )
        if rows:  # readers of the map's columns (curator.map_columns) re-read the placed part
            mark_map_written(conn)
    if fitted:
        _remove_superseded_models(ws, fit_id)
    if progress is not None:
        progress(len(ids), len(ids))
    prompts = _place_prompts(ws, fit_id)
    return MapReport(fitted, fit_id, len(rows), prompts, len(ids))


def map_points(ws: Workspace) -> list[MapPoint]:
    """Every stored point (images, then prompts), read from the catalog."""
    with ws.session() as conn:
        flags: dict[int, list[str]] = {}
        for r in conn.execute("SELECT image_id, flag FROM flags ORDER BY flag"):
            flags.setdefault(r["image_id"], []).append(r["flag"])
        images = conn.execute(
            "SELECT m.item_id, m.x, m.y, i.source, i.round, s.status, i.prompt_id FROM map_coords m"
            " JOIN images i ON i.id = m.item_id JOIN image_status s ON s.image_id = i.id"
            " WHERE m.kind = 'image' ORDER BY m.item_id"
        ).fetchall()
        prompts = conn.execute(
            "SELECT item_id, x, y FROM map_coords WHERE kind = 'prompt' ORDER BY item_id"
        ).fetchall()
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
