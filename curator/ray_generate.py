"""Diffusion on a Ray cluster with Ray Data: actors that each hold the pipeline render the
round's images; the caller stores them exactly as one process does (``curator.generation``).

Workers load the model as ``load_pipeline`` does (a local diffusers folder at the same path on
every node, or the model in each node's Hugging Face cache), and img2img workers open the
parents by their absolute store paths, so the workspace's ``store/`` must be on storage every
node mounts at the same path. Only the driver touches the catalog and the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, replace

import numpy as np

from curator.catalog import get_image
from curator.config import GenerationConfig
from curator.generation import GenJob, img2img_source, load_pipeline, pipeline_call
from curator.prompts import Prompt
from curator.ray_cluster import actor_pool, connect, raise_errors, start_actor
from curator.store import image_path, load_rgb
from curator.workspace import Workspace


class RenderBatch:
    """A Ray Data actor: loads the pipeline once, then renders batches of jobs."""

    def __init__(self, settings: dict, mode: str) -> None:
        self.settings = GenerationConfig(**settings)
        start_actor(self.settings.device)
        self.pipe = load_pipeline(self.settings, mode=mode)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Job columns in (``index``, ``text``, ``negative``, ``seed``, ``parent_path``);
        ``index`` and the ``(n, H, W, 3)`` pixels out, with an ``error`` line per failed job."""
        pixels, errors = [], []
        shape = (self.settings.height, self.settings.width, 3)
        for text, negative, seed, parent in zip(
            batch["text"], batch["negative"], batch["seed"], batch["parent_path"], strict=True
        ):
            try:
                source = img2img_source(load_rgb(parent), self.settings) if parent else None
                call = pipeline_call(str(text), str(negative), self.settings, int(seed), source)
                image = np.asarray(self.pipe(**call).images[0].convert("RGB"))
                pixels.append(image)
                errors.append("")
            except (OSError, ValueError) as exc:  # an unreadable parent, a refused argument
                pixels.append(np.zeros(shape, np.uint8))
                errors.append(f"{parent or text}: {exc}")
        return {"index": batch["index"], "pixels": np.stack(pixels), "error": np.array(errors)}


def render_on_ray(
    ws: Workspace,
    jobs: list[GenJob],
    prompts: dict[int, Prompt],
    settings: GenerationConfig,
    mode: str,
    ray_cluster: str | bool = True,
) -> Iterator[tuple[GenJob, np.ndarray]]:
    """(job, RGB pixels) per job, as the cluster finishes them (in no fixed order);
    ``ray_cluster`` as for ``curator.ray_cluster.connect``."""
    import ray

    if not jobs:
        return
    connect(ray_cluster)
    pool = actor_pool(settings.device, len(jobs))
    parents = {job.parent_id for job in jobs if job.parent_id is not None}
    parent_paths = {p: str(image_path(ws, get_image(ws, p)).resolve()) for p in parents}
    rows = [
        {
            "index": job.index,
            "text": prompts[job.prompt_id].text,
            "negative": prompts[job.prompt_id].negative,
            "seed": job.seed,
            "parent_path": parent_paths.get(job.parent_id, ""),
        }
        for job in jobs
    ]
    actor_settings = asdict(replace(settings, device=pool.device))
    rendered = ray.data.from_items(rows).map_batches(
        RenderBatch,
        fn_constructor_args=(actor_settings, mode),
        batch_size=1,  # one image per call: the longest unit of work, spread evenly
        **pool.options,
    )
    by_index = {job.index: job for job in jobs}
    for batch in rendered.iter_batches(batch_size=None, batch_format="numpy"):
        raise_errors(batch, "generation")
        for index, pixels in zip(batch["index"], batch["pixels"], strict=True):
            yield by_index[int(index)], np.ascontiguousarray(pixels, dtype=np.uint8)
