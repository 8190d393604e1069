"""Diffusion rounds: text-to-image from prompt versions, image-to-image from accepted originals.

Each finished image is written to the store and committed with its full provenance before the
next one starts, so an interrupted round keeps everything it finished.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from curator.catalog import Provenance, get_image
from curator.config import GenerationConfig
from curator.errors import CuratorError
from curator.hub import hub_reachable
from curator.ingest import add_image
from curator.prompts import Prompt, get_prompt
from curator.quality import Flag, similarity_to_parent
from curator.store import image_path, load_rgb
from curator.workspace import Workspace, get_meta
from sr.atomic import write_atomic
from sr.image_files import ImageData

MODES = ("txt2img", "img2img")
Progress = Callable[[float, int], None]  # images done (a fraction while one is denoised), total


def settings_from_config(ws: Workspace, **overrides: Any) -> GenerationConfig:
    """The workspace's default generation settings, with ``overrides`` applied."""
    return replace(ws.config.generation, **{k: v for k, v in overrides.items() if v is not None})


def pipeline_dtype(device: str) -> torch.dtype:
    """Half precision on CUDA (half the memory, tensor cores); float32 elsewhere (slow on CPUs)."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


def load_pipeline(settings: GenerationConfig, *, mode: str = "txt2img") -> Any:
    """A diffusers pipeline for ``settings.model`` (a local folder or a Hugging Face cache id)."""
    if mode not in MODES:
        raise CuratorError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image

    cls = AutoPipelineForText2Image if mode == "txt2img" else AutoPipelineForImage2Image
    local = Path(settings.model).is_dir()
    # A hub id downloads on first use (diffusers shows a progress bar) when the hub answers;
    # offline it is read from the cache at once instead of retrying the hub for a minute.
    download = not local and hub_reachable()
    try:
        pipe = cls.from_pretrained(
            settings.model,
            torch_dtype=pipeline_dtype(settings.device),
            local_files_only=not download,
        )
    except Exception as exc:  # diffusers/hub raise OSError, ValueError, EnvironmentError, ...
        where = "folder" if local else "Hugging Face hub" if download else "Hugging Face cache"
        hf_home = os.environ.get("HF_HOME", "~/.cache/huggingface")
        raise CuratorError(
            f"diffusion model {settings.model!r} could not be loaded from the {where} "
            f"({type(exc).__name__}). Download it once with internet access "
            f"(`huggingface-cli download {settings.model}`, stored under {hf_home}/hub), "
            "or give a local diffusers model folder as the model"
        ) from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(settings.device)


def next_round(ws: Workspace) -> int:
    """The number a new generation round gets (one past the highest round in the catalog)."""
    with ws.session() as conn:
        return int(conn.execute("SELECT COALESCE(MAX(round), 0) FROM images").fetchone()[0]) + 1


@dataclass(frozen=True)
class GenJob:
    """One image to make: its place in the round (which fixes its seed), prompt and parent."""

    index: int
    prompt_id: int
    parent_id: int | None
    seed: int


def _jobs(
    prompt_ids: Sequence[int], mode: str, per_prompt: int, parents: Sequence[int], seed: int
) -> list[GenJob]:
    """Every image of the round in a fixed order; image ``i`` gets seed ``seed + i``."""
    if mode == "txt2img":
        pairs = [(p, None) for p in prompt_ids for _ in range(per_prompt)]
    else:
        pairs = [(p, parent) for parent in parents for p in prompt_ids for _ in range(per_prompt)]
    return [GenJob(i, p, parent, seed + i) for i, (p, parent) in enumerate(pairs)]


def _already_made(ws: Workspace, round: int) -> set[tuple[int, int | None, int]]:
    """(prompt, parent, seed) of the generated images already in ``round``."""
    with ws.session() as conn:
        rows = conn.execute(
            "SELECT prompt_id, parent_id, seed FROM images"
            " WHERE source = 'generated' AND round = ?",
            (round,),
        ).fetchall()
    return {(r[0], r[1], r[2]) for r in rows}


def pipeline_call(
    text: str, negative: str, settings: GenerationConfig, seed: int, source: Image.Image | None
) -> dict[str, Any]:
    """The diffusers pipeline's arguments for one image (``source``: img2img's start image)."""
    call: dict[str, Any] = {
        "prompt": text,
        "negative_prompt": negative or None,
        "num_inference_steps": settings.steps,
        "guidance_scale": settings.guidance,
        "generator": torch.Generator(device=settings.device).manual_seed(seed),
        "output_type": "pil",
    }
    if source is None:
        call.update(width=settings.width, height=settings.height)
    else:
        call.update(image=source, strength=settings.strength)
    return call


def img2img_source(parent_rgb: np.ndarray, settings: GenerationConfig) -> Image.Image:
    """A parent's pixels resized to the generation size (img2img's start image)."""
    size = (settings.width, settings.height)
    return Image.fromarray(parent_rgb).resize(size, Image.Resampling.LANCZOS)


def _resolve_parents(ws: Workspace, parents: Sequence[int] | None) -> list[int]:
    from curator.catalog import list_images

    if parents is None:
        found = [r.id for r in list_images(ws, status="accepted", source="original")]
        if not found:
            raise CuratorError("img2img needs accepted originals; accept some first")
        return found
    for parent in parents:
        if get_image(ws, parent).status != "accepted":
            raise CuratorError(
                f"image #{parent} is not accepted; img2img starts from accepted ones"
            )
    return list(parents)


def _png(rgb: np.ndarray) -> tuple[bytes, ImageData]:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue(), ImageData(rgb, None, "PNG")


def generate_round(
    ws: Workspace,
    *,
    prompt_ids: Sequence[int],
    mode: str = "txt2img",
    per_prompt: int = 1,
    parents: Sequence[int] | None = None,
    settings: GenerationConfig,
    pipeline: Any = None,
    progress: Progress | None = None,
    round: int | None = None,
    place_on_map: bool = True,
    ray: str | bool | None = None,
) -> list[int]:
    """Generate one round; returns the new image ids (each committed as soon as it exists).

    ``round``: continue that round instead of starting the next one; the images it already
    holds (same prompt, parent and seed) are not made again, so the same command with
    ``round`` resumes an interrupted round without duplicates. ``ray``: render on a Ray
    cluster (``True``: ``RAY_ADDRESS`` or a local Ray; a string: its address;
    ``curator.ray_generate``); this process still stores every image.
    """
    if mode not in MODES:
        raise CuratorError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    if not prompt_ids:
        raise CuratorError("name at least one prompt version")
    if per_prompt < 1:
        raise CuratorError("per_prompt must be at least 1")
    if mode == "img2img" and int(settings.steps * settings.strength) < 1:
        raise CuratorError(
            f"img2img runs steps × strength = {settings.steps * settings.strength:g} < 1 "
            "denoising steps; raise --steps or --strength"
        )
    prompts = {p: get_prompt(ws, p) for p in prompt_ids}
    parent_ids = _resolve_parents(ws, parents) if mode == "img2img" else []
    jobs = _jobs(prompt_ids, mode, per_prompt, parent_ids, settings.seed)
    if round is None:
        round = next_round(ws)
    else:
        done = _already_made(ws, round)
        jobs = [j for j in jobs if (j.prompt_id, j.parent_id, j.seed) not in done]
    parent_rgb: dict[int, np.ndarray] = {}

    def parent_pixels(parent_id: int) -> np.ndarray:
        if parent_id not in parent_rgb:
            parent_rgb[parent_id] = load_rgb(image_path(ws, get_image(ws, parent_id)))
        return parent_rgb[parent_id]

    if not ray:
        pipe = pipeline if pipeline is not None else load_pipeline(settings, mode=mode)
        outputs = _render_here(pipe, jobs, prompts, settings, parent_pixels, progress)
    else:
        from curator.ray_generate import render_on_ray

        outputs = render_on_ray(ws, jobs, prompts, settings, mode, ray)
    made: list[int] = []
    with ws.writer_lock():
        for count, (job, output) in enumerate(outputs, start=1):
            image_id, is_new = _store(ws, job, output, settings, mode, round, parent_pixels)
            if is_new:  # an output identical to a stored image is not a new image
                made.append(image_id)
            if progress is not None:
                progress(count, len(jobs))
    if place_on_map and made:
        _place(ws)
    return made


def _render_here(
    pipe: Any,
    jobs: list[GenJob],
    prompts: dict[int, Prompt],
    settings: GenerationConfig,
    parent_pixels: Callable[[int], np.ndarray],
    progress: Progress | None,
) -> Iterator[tuple[GenJob, np.ndarray]]:
    """(job, RGB pixels) per job, made by ``pipe`` in this process, one at a time."""
    for position, job in enumerate(jobs):
        source = None
        if job.parent_id is not None:
            source = img2img_source(parent_pixels(job.parent_id), settings)
        prompt = prompts[job.prompt_id]
        call = pipeline_call(prompt.text, prompt.negative, settings, job.seed, source)
        if progress is not None:  # per denoising step: a CPU image takes minutes
            steps = _denoising_steps(settings, source is not None)
            call["callback_on_step_end"] = _step_progress(progress, position, len(jobs), steps)
        yield job, np.asarray(pipe(**call).images[0].convert("RGB"))


def _store(
    ws: Workspace,
    job: GenJob,
    rgb: np.ndarray,
    settings: GenerationConfig,
    mode: str,
    round: int,
    parent_pixels: Callable[[int], np.ndarray],
) -> tuple[int, bool]:
    """Write one generated image to the store and the catalog with its provenance."""
    data, decoded = _png(rgb)
    extra = []
    if job.parent_id is not None:
        similarity = similarity_to_parent(decoded.pixels, parent_pixels(job.parent_id))
        if similarity >= ws.config.ingest.near_copy_similarity:
            extra.append(
                Flag("near_copy", similarity, f"{similarity:.3f} similar to #{job.parent_id}")
            )
    record = {**asdict(settings), "mode": mode, "seed": job.seed}
    return add_image(
        ws,
        content_hash=hashlib.sha256(data).hexdigest(),
        store_file=lambda target, data=data: write_atomic(target, data),
        extension=".png",
        decoded=decoded,
        original_name=f"round{round}-{mode}-p{job.prompt_id}-s{job.seed}.png",
        mode="RGB",
        provenance=Provenance(
            source="generated",
            round=round,
            parent_id=job.parent_id,
            prompt_id=job.prompt_id,
            seed=job.seed,
            generator_model=settings.model,
            generator_settings=record,
        ),
        extra_flags=extra,
    )


def _denoising_steps(settings: GenerationConfig, img2img: bool) -> int:
    """How many steps the pipeline runs: img2img skips the first ``1 - strength`` of them."""
    if img2img:
        return max(1, min(int(settings.steps * settings.strength), settings.steps))
    return max(1, settings.steps)


def _step_progress(progress: Progress, index: int, total: int, steps: int) -> Callable:
    """A diffusers ``callback_on_step_end`` reporting image ``index`` + the step's fraction."""

    def on_step_end(pipe: Any, step: int, timestep: Any, kwargs: dict) -> dict:
        if step + 1 < steps:  # the last step is reported once the image is stored
            progress(index + (step + 1) / steps, total)
        return kwargs

    return on_step_end


def _place(ws: Workspace) -> None:
    """Embed the new images and add them to the map, if this workspace has embeddings already."""
    from curator.shared_map import refresh_map

    with ws.session() as conn:
        embedded = get_meta(conn, "encoder") is not None
    if embedded:
        refresh_map(ws)
