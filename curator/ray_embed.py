"""Embedding on a Ray cluster with Ray Data: actors that each hold the encoder read the stored
images and return features; the caller writes them into the workspace exactly as one process does.

Workers open the image files by their absolute store paths, so the workspace's ``store/`` must be
on storage every worker mounts at the same path (NFS or a cluster file system), and each worker
needs the encoder's weights (efficientnet-lite0 ships in its Python package; CLIP's come from the
worker's Hugging Face cache). Only the driver touches the catalog and the embedding files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from curator.ray_cluster import actor_pool, connect, raise_errors, start_actor


class EncodeBatch:
    """A Ray Data actor: loads the encoder once, then embeds batches of stored image paths."""

    def __init__(self, encoder: str, device: str) -> None:
        from curator.encoders import load_encoder

        start_actor(device)
        self.encoder = load_encoder(encoder, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{"content_hash", "path"}`` columns in; ``{"content_hash", "embedding", "error"}``
        out. A file that cannot be read comes back as an error line (Ray's own wrapping of a
        raised error loses it in a page of trace), with no features for its batch."""
        from curator.store import load_rgb

        try:
            images = [load_rgb(Path(str(path))) for path in batch["path"]]
        except (OSError, ValueError) as exc:  # ImageFileError is a ValueError
            count = len(batch["path"])
            errors = np.array([str(exc)] * count)
            nothing = np.zeros((count, self.encoder.dim), np.float32)
            return {"content_hash": batch["content_hash"], "embedding": nothing, "error": errors}
        features = self.encoder.encode_images(images)
        errors = np.array([""] * len(images))
        return {"content_hash": batch["content_hash"], "embedding": features, "error": errors}


def embed_on_ray(
    paths: Sequence[tuple[str, Path]],
    encoder: str,
    device: str,
    batch_size: int,
    ray_cluster: str | bool = True,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """(content hashes, ``(n, D)`` features) of ``paths`` ((hash, image file) pairs), batch by
    batch as the cluster finishes them (in no fixed order); ``ray_cluster`` as for ``connect``."""
    import ray

    connect(ray_cluster)
    pool = actor_pool(device, max(1, len(paths) // batch_size))
    items = [{"content_hash": h, "path": str(p.resolve())} for h, p in paths]
    features = ray.data.from_items(items).map_batches(
        EncodeBatch,
        fn_constructor_args=(encoder, pool.device),
        batch_size=batch_size,
        **pool.options,
    )
    for batch in features.iter_batches(batch_size=None, batch_format="numpy"):
        raise_errors(batch, "embedding")
        yield [str(h) for h in batch["content_hash"]], np.asarray(batch["embedding"], np.float32)
