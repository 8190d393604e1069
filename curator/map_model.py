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
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save

from curator.errors import CuratorError
from curator.knn import rebuild_index
from curator.umap_fit import UMAP_PARAMS, fitted_state, new_umap, umap_from_state
from sr.atomic import write_atomic

FORMAT = "curator-map-model/1"
INDEX_PREFIX = "index_"  # arrays of the neighbour index (curator.knn) inside the file


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


def _umap_state(model) -> tuple[dict[str, np.ndarray], dict]:
    arrays = {
        "raw_data": np.ascontiguousarray(model._raw_data, dtype=np.float32),
        "embedding": np.ascontiguousarray(model.embedding_, dtype=np.float32),
    }
    params = {name: getattr(model, name) for name in UMAP_PARAMS}
    fitted = fitted_state(model)
    index = model._knn_search_index  # curator.knn: exact, or an IVF index stored as arrays
    arrays.update({f"{INDEX_PREFIX}{name}": value for name, value in index.arrays().items()})
    return arrays, {"kind": "umap", "params": params, "fitted": fitted, "index": index.kind}


def _rebuild_umap(arrays: dict[str, np.ndarray], meta: dict):
    model = new_umap(**meta["params"])
    raw = arrays["raw_data"]
    stored = {
        k.removeprefix(INDEX_PREFIX): v for k, v in arrays.items() if k.startswith(INDEX_PREFIX)
    }
    # maps saved before the IVF index existed have no "index": they were exact
    index = rebuild_index(raw, meta.get("index", "exact"), stored)
    umap_from_state(model, raw, arrays["embedding"], meta["fitted"], index)
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
