"""Embedding store: append-only float32 array files (memory-mapped for reading) per model.

``embeddings`` maps (content hash, model) → row of ``embeddings/<model>.f32``; prompt and other
text embeddings use ``text_embeddings`` and ``<model>.text.f32``. A row is appended and fsynced
before its catalog row is committed, so an interrupted run leaves at most unused rows at the end
of the file, never a catalog row pointing at missing data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from curator.config import CONFIG_NAME, save_config
from curator.encoder_choice import check_encoder_name
from curator.encoders import Encoder, load_encoder
from curator.errors import CuratorError
from curator.store import load_rgb
from curator.workspace import LONG_WAIT_S, Workspace, get_meta, open_workspace, set_meta

Progress = Callable[[int, int], None]


class ArrayFile:
    """A raw little-endian float32 ``(rows, dim)`` file that only grows."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self.row_bytes = dim * 4

    def rows(self) -> int:
        """Complete rows on disk."""
        return self.path.stat().st_size // self.row_bytes if self.path.exists() else 0

    def append(self, array: np.ndarray) -> int:
        """Append ``(n, dim)`` rows durably; returns the index of the first new row."""
        array = np.ascontiguousarray(array, dtype="<f4")
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise ValueError(f"expected (n, {self.dim}) rows, got {array.shape}")
        start = self.rows()
        with open(self.path, "ab") as handle:
            handle.truncate(start * self.row_bytes)  # drop a partial row left by a crash
            handle.write(array.tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        return start

    def read(self) -> np.ndarray:
        """Read-only memory map of every complete row."""
        n = self.rows()
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.memmap(self.path, dtype="<f4", mode="r", shape=(n, self.dim))


def _slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model)


def _array(ws: Workspace, model: str, dim: int, kind: str) -> ArrayFile:
    suffix = ".f32" if kind == "image" else ".text.f32"
    info = ws.embeddings_dir / f"{_slug(model)}.json"
    if info.exists():
        recorded = json.loads(info.read_text())
        if recorded["dim"] != dim:
            raise CuratorError(f"{info}: embeddings of dim {recorded['dim']}, encoder gives {dim}")
    else:
        tmp = info.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"model": model, "dim": dim, "dtype": "float32<"}))
        tmp.replace(info)
    return ArrayFile(ws.embeddings_dir / f"{_slug(model)}{suffix}", dim)


def _stored_array(ws: Workspace, model: str, kind: str) -> ArrayFile | None:
    info = ws.embeddings_dir / f"{_slug(model)}.json"
    if not info.exists():
        return None
    return _array(ws, model, json.loads(info.read_text())["dim"], kind)


def workspace_encoder(ws: Workspace) -> str:
    """The encoder named by the config, refusing one that differs from the stored embeddings'."""
    wanted = ws.config.embedding.encoder
    with ws.session() as conn:
        recorded = get_meta(conn, "encoder")
    if recorded is not None and recorded != wanted:
        raise CuratorError(
            f"{ws.root}: embeddings were made with {recorded!r} but the config asks for "
            f"{wanted!r}; refusing to mix encoders (switch with `curator embed {ws.root} "
            f"--encoder NAME`, which embeds every image again)"
        )
    return wanted


def switch_encoder(ws: Workspace, encoder: str) -> Workspace:
    """Make ``encoder`` the workspace's encoder; the next ``embed_images`` embeds every image.

    The encoder is loaded first, so one that is unavailable changes nothing. Embeddings of the
    old encoder stay stored (switching back costs nothing) and the map refits on its next update,
    since its fit names the encoder it was made with. Returns the re-opened workspace.
    """
    check_encoder_name(encoder)
    load_encoder(encoder, ws.config.embedding.device)
    config = replace(ws.config, embedding=replace(ws.config.embedding, encoder=encoder))
    with ws.writer_lock(wait_s=LONG_WAIT_S), ws.transaction() as conn:
        set_meta(conn, "encoder", encoder)
        # written inside the transaction: if the write fails, the recorded encoder stays too
        save_config(ws.root / CONFIG_NAME, config)
    return open_workspace(ws.root)


def get_encoder(ws: Workspace) -> Encoder:
    """The workspace's encoder, loaded once per process."""
    return load_encoder(workspace_encoder(ws), ws.config.embedding.device)


def embed_images(
    ws: Workspace, *, progress: Progress | None = None, ray: str | bool | None = None
) -> int:
    """Embed every image without an embedding for the workspace's encoder; returns how many.

    Holds the writer lock while it appends (a second writer's rows would be overwritten).
    ``ray``: run the encoder on a Ray cluster (``True``: ``RAY_ADDRESS`` or a local Ray; a
    string: that cluster's address; ``curator.ray_embed``). Every batch is committed as it
    arrives, so an interrupted run, with or without Ray, resumes with the rest and no duplicates.
    """
    if not _images_to_embed(ws):
        return 0  # cached: nothing is loaded, no lock taken
    with ws.writer_lock(wait_s=LONG_WAIT_S):
        return _embed_images(ws, progress, ray)


def _images_to_embed(ws: Workspace) -> list:
    """Rows (id, content hash, store path) of images without an embedding for the encoder."""
    model = workspace_encoder(ws)
    with ws.session() as conn:
        return conn.execute(
            "SELECT id, content_hash, store_path FROM images WHERE content_hash NOT IN"
            " (SELECT content_hash FROM embeddings WHERE model = ?) ORDER BY id",
            (model,),
        ).fetchall()


def _embed_images(ws: Workspace, progress: Progress | None, ray: str | bool | None) -> int:
    model = workspace_encoder(ws)
    todo = _images_to_embed(ws)  # again, under the lock: another writer may have done some
    if not todo:
        return 0
    batch_size = max(1, ws.config.embedding.batch_size)
    if not ray:
        features = _local_features(ws, todo, batch_size)
    else:
        from curator.ray_embed import embed_on_ray

        paths = [(r["content_hash"], ws.store_dir / r["store_path"]) for r in todo]
        features = embed_on_ray(paths, model, ws.config.embedding.device, batch_size, ray)
    done, array = 0, None
    for hashes, rows in features:
        array = array or _array(ws, model, rows.shape[1], "image")  # dim known from the first
        first = array.append(rows)
        with ws.transaction() as conn:
            set_meta(conn, "encoder", model)
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (content_hash, model, row) VALUES (?, ?, ?)",
                [(h, model, first + i) for i, h in enumerate(hashes)],
            )
        done += len(hashes)
        if progress is not None:
            progress(done, len(todo))
    return len(todo)


def _local_features(
    ws: Workspace, todo: list, batch_size: int
) -> Iterator[tuple[list[str], np.ndarray]]:
    """(content hashes, features) per batch, from the encoder in this process."""
    encoder = get_encoder(ws)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        images = [load_rgb(ws.store_dir / r["store_path"]) for r in batch]
        yield [r["content_hash"] for r in batch], encoder.encode_images(images)


def image_embeddings(
    ws: Workspace, ids: Sequence[int] | None = None
) -> tuple[list[int], np.ndarray]:
    """(image ids, ``(N, D)`` embeddings) of embedded images (all, or those of ``ids``)."""
    model = workspace_encoder(ws)
    with ws.session() as conn:
        rows = conn.execute(
            "SELECT images.id, embeddings.row FROM images JOIN embeddings"
            " ON embeddings.content_hash = images.content_hash AND embeddings.model = ?"
            " ORDER BY images.id",
            (model,),
        ).fetchall()
    if ids is not None:
        wanted = set(ids)
        rows = [r for r in rows if r["id"] in wanted]
    array = _stored_array(ws, model, "image")
    if array is None or not rows:
        return [], np.zeros((0, array.dim if array else 0), dtype=np.float32)
    matrix = array.read()
    return [r["id"] for r in rows], np.asarray(matrix[[r["row"] for r in rows]], dtype=np.float32)


def text_hash(text: str) -> str:
    """Cache key of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_texts(ws: Workspace, texts: Sequence[str]) -> np.ndarray:
    """``(N, D)`` text embeddings in the image space, cached by (text hash, model)."""
    encoder = get_encoder(ws)
    if not encoder.supports_text:
        raise CuratorError(
            f"encoder {encoder.name} embeds images only; text features need a CLIP encoder "
            "(embedding.encoder: open_clip:MODEL:PRETRAINED)"
        )
    model = encoder.name
    array = _array(ws, model, encoder.dim, "text")
    keys = [text_hash(t) for t in texts]
    with ws.session() as conn:
        known = dict(
            conn.execute(
                "SELECT text_hash, row FROM text_embeddings WHERE model = ?", (model,)
            ).fetchall()
        )
    missing = sorted({(k, t) for k, t in zip(keys, texts, strict=True) if k not in known})
    if missing:
        with ws.writer_lock(wait_s=LONG_WAIT_S), ws.transaction() as conn:
            first = array.append(encoder.encode_texts([t for _, t in missing]))
            set_meta(conn, "encoder", model)
            conn.executemany(
                "INSERT OR REPLACE INTO text_embeddings (text_hash, model, row) VALUES (?, ?, ?)",
                [(k, model, first + i) for i, (k, _) in enumerate(missing)],
            )
            known.update({k: first + i for i, (k, _) in enumerate(missing)})
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.asarray(array.read()[[known[k] for k in keys]], dtype=np.float32)


def embed_prompts(ws: Workspace) -> int:
    """Embed the text of every prompt version (CLIP only; 0 with an image-only encoder)."""
    encoder = get_encoder(ws)
    if not encoder.supports_text:
        return 0
    with ws.session() as conn:
        texts = [r["text"] for r in conn.execute("SELECT text FROM prompts ORDER BY id")]
        before = conn.execute(
            "SELECT COUNT(*) FROM text_embeddings WHERE model = ?", (encoder.name,)
        ).fetchone()[0]
    embed_texts(ws, texts)
    with ws.session() as conn:
        after = conn.execute(
            "SELECT COUNT(*) FROM text_embeddings WHERE model = ?", (encoder.name,)
        ).fetchone()[0]
    return after - before


def prompt_embeddings(ws: Workspace) -> tuple[list[int], np.ndarray]:
    """(prompt ids, ``(P, D)`` text embeddings of their texts) — CLIP workspaces only."""
    with ws.session() as conn:
        rows = conn.execute("SELECT id, text FROM prompts ORDER BY id").fetchall()
    return [r["id"] for r in rows], embed_texts(ws, [r["text"] for r in rows])
