"""Generation rounds with a tiny diffusers pipeline: provenance, img2img, near copies, loading."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from curator.catalog import get_image, list_images
from curator.curation import accept
from curator.errors import CuratorError
from curator.generation import (
    GenerationConfig,
    generate_round,
    load_pipeline,
    settings_from_config,
)
from curator.prompts import add_prompt, lineage, prompt_stats
from curator.shared_map import map_points
from curator.store import image_path, load_rgb
from curator.workspace import Workspace


@pytest.fixture
def settings(tiny_model_dir: Path) -> GenerationConfig:
    return GenerationConfig(
        model=str(tiny_model_dir), steps=2, guidance=1.5, strength=0.6, width=32, height=32, seed=5
    )


def test_tokenizer__matches_open_clip(tiny_model_dir: Path) -> None:
    import open_clip
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(tiny_model_dir / "tokenizer")
    text = "a photo of a red Fox, jumping!"
    ours = tokenizer(text).input_ids
    reference = open_clip.get_tokenizer("ViT-B-32")([text])[0].tolist()
    assert ours == reference[: len(ours)] and ours[-1] == 49407 and len(ours) > 5


def test_generate_round__txt2img_provenance_and_map(
    mapped_ws: Workspace, settings: GenerationConfig
) -> None:
    pipe = load_pipeline(settings, mode="txt2img")
    p = add_prompt(mapped_ws, "a cat on a sofa", negative="blurry")
    seen = []
    ids = generate_round(
        mapped_ws, prompt_ids=[p, 1], per_prompt=2, settings=settings, pipeline=pipe,
        progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    assert len(ids) == 4
    assert seen == [(k / 2, 4) for k in range(1, 9)]  # each of 2 denoising steps, then stored
    records = [get_image(mapped_ws, i) for i in ids]
    assert [r.prompt_id for r in records] == [p, p, 1, 1]
    assert [r.seed for r in records] == [5, 6, 7, 8]
    for r in records:
        assert (r.source, r.round, r.status, r.parent_id) == ("generated", 1, "pending", None)
        assert r.generator_model == settings.model and (r.width, r.height) == (32, 32)
        recorded = json.loads(r.generator_settings)
        assert recorded["mode"] == "txt2img" and recorded["guidance"] == 1.5
        assert image_path(mapped_ws, r).is_file()
    # same seed, same settings → the same pixels (provenance is enough to reproduce)
    again = pipe(
        prompt="a cat on a sofa", negative_prompt="blurry", num_inference_steps=2,
        guidance_scale=1.5, width=32, height=32,
        generator=__import__("torch").Generator().manual_seed(5),
    ).images[0]  # fmt: skip
    np.testing.assert_array_equal(np.asarray(again), load_rgb(image_path(mapped_ws, records[0])))
    placed = {pt.id for pt in map_points(mapped_ws) if pt.kind == "image"}
    assert set(ids) <= placed  # embedded and placed on the existing map
    assert prompt_stats(mapped_ws, p).pending == 2


def test_generate_round__img2img_from_accepted_originals(
    mapped_ws: Workspace, settings: GenerationConfig
) -> None:
    accept(mapped_ws, [3, 4])
    p = add_prompt(mapped_ws, "a sharp photo")
    pipe = load_pipeline(settings, mode="img2img")
    seen = []
    ids = generate_round(
        mapped_ws, prompt_ids=[p], mode="img2img", settings=replace(settings, steps=5),
        pipeline=pipe, place_on_map=False, progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    # strength 0.6 of 5 steps: diffusers runs 3, and progress follows each of them
    assert [t for _, t in seen] == [2] * 6
    assert [d for d, _ in seen] == pytest.approx([k / 3 for k in range(1, 7)])
    assert [get_image(mapped_ws, i).parent_id for i in ids] == [3, 4]
    assert all(get_image(mapped_ws, i).round == 1 for i in ids)
    assert all("near_copy" not in get_image(mapped_ws, i).flags for i in ids)  # it changed
    with pytest.raises(CuratorError, match="not accepted"):
        generate_round(
            mapped_ws, prompt_ids=[p], mode="img2img", parents=[5], settings=settings,
            pipeline=pipe,
        )  # fmt: skip


class _Identity:
    """A stand-in pipeline returning its input image: img2img that changed nothing."""

    def __call__(self, **kwargs):
        return type("Out", (), {"images": [kwargs["image"]]})()


def test_generate_round__flags_near_copy(mapped_ws: Workspace, settings: GenerationConfig) -> None:
    accept(mapped_ws, [2])
    p = add_prompt(mapped_ws, "anything")
    (image_id,) = generate_round(
        mapped_ws, prompt_ids=[p], mode="img2img", parents=[2], pipeline=_Identity(),
        settings=replace(settings, width=48, height=48), place_on_map=False,
    )  # fmt: skip
    record = get_image(mapped_ws, image_id)
    assert record.flags["near_copy"] > 0.98 and "#2" in record.flag_details["near_copy"]


def test_generate_round__interrupt_keeps_finished(
    mapped_ws: Workspace, settings: GenerationConfig
) -> None:
    pipe = load_pipeline(settings)

    class Interrupting:
        calls = 0

        def __call__(self, **kwargs):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                raise KeyboardInterrupt
            return pipe(**kwargs)

    p = add_prompt(mapped_ws, "a lighthouse")
    before = len(list_images(mapped_ws))
    with pytest.raises(KeyboardInterrupt):
        generate_round(
            mapped_ws, prompt_ids=[p], per_prompt=4, settings=settings, pipeline=Interrupting()
        )
    generated = list_images(mapped_ws, source="generated")
    assert len(list_images(mapped_ws)) == before + 2 and len(generated) == 2
    assert all(image_path(mapped_ws, r).is_file() for r in generated)


def _made(ws: Workspace) -> dict[tuple, str]:
    """(round, prompt, parent, seed) → content hash of every generated image."""
    return {
        (r.round, r.prompt_id, r.parent_id, r.seed): r.content_hash
        for r in list_images(ws, source="generated")
    }


def test_generate_round__the_same_round_again_resumes_without_duplicates(
    mapped_ws: Workspace, settings: GenerationConfig, tmp_path: Path
) -> None:
    import shutil

    from curator.workspace import open_workspace

    p = add_prompt(mapped_ws, "a lighthouse")
    reference = open_workspace(shutil.copytree(mapped_ws.root, tmp_path / "reference"))
    generate_round(reference, prompt_ids=[p], per_prompt=4, settings=settings, place_on_map=False)
    pipe = load_pipeline(settings)
    calls = []

    def interrupted(**kwargs):
        calls.append(kwargs["generator"].initial_seed())
        if len(calls) == 3:
            raise KeyboardInterrupt
        return pipe(**kwargs)

    with pytest.raises(KeyboardInterrupt):
        generate_round(mapped_ws, prompt_ids=[p], per_prompt=4, settings=settings,
                       pipeline=interrupted, place_on_map=False)  # fmt: skip
    (round_,) = {r.round for r in list_images(mapped_ws, source="generated")}
    calls.clear()
    resumed = generate_round(mapped_ws, prompt_ids=[p], per_prompt=4, settings=settings,
                             pipeline=interrupted, round=round_, place_on_map=False)  # fmt: skip
    assert calls == [settings.seed + 2, settings.seed + 3]  # only the two not made yet
    assert len(resumed) == 2
    assert _made(mapped_ws) == _made(reference)  # as if it had never stopped
    assert generate_round(mapped_ws, prompt_ids=[p], per_prompt=4, settings=settings,
                          pipeline=interrupted, round=round_) == []  # fmt: skip


def test_generate_round__on_ray_equals_one_process(
    mapped_ws: Workspace, settings: GenerationConfig, tmp_path: Path
) -> None:
    import shutil

    import ray  # part of the test install (pyproject's [test] extra)

    from curator.workspace import open_workspace, wait_for_checkpoints

    p = add_prompt(mapped_ws, "a lighthouse")
    parent = list_images(mapped_ws)[0].id
    accept(mapped_ws, [parent])
    wait_for_checkpoints()  # the accept's checkpoint thread removes -wal/-shm while it finishes
    alone = open_workspace(shutil.copytree(mapped_ws.root, tmp_path / "alone"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for mode, parents in (("txt2img", None), ("img2img", [parent])):
            kwargs = dict(prompt_ids=[p], mode=mode, per_prompt=3, parents=parents,
                          settings=settings, place_on_map=False)  # fmt: skip
            on_ray = generate_round(mapped_ws, ray=True, **kwargs)
            assert len(on_ray) == 3 and len(generate_round(alone, **kwargs)) == 3
    finally:
        ray.shutdown()
    made = _made(mapped_ws)
    assert made == _made(alone) and len(made) == 6
    assert len(set(made.values())) == 6  # six different images, same seeds and parents


def test_load_pipeline__missing_model_named() -> None:
    settings = GenerationConfig(model="someone/not-in-the-cache")
    with pytest.raises(CuratorError) as info:
        load_pipeline(settings)
    assert "someone/not-in-the-cache" in str(info.value) and "diffusers model folder" in str(
        info.value
    )


def test_prompts__versions_and_lineage(mapped_ws: Workspace) -> None:
    v2 = add_prompt(mapped_ws, "a photo of a cat, sharp", parent_id=1)
    v3 = add_prompt(mapped_ws, "a photo of a cat, sharp, detailed", parent_id=v2)
    assert [p.id for p in lineage(mapped_ws, v3)] == [1, v2, v3]
    with pytest.raises(CuratorError, match="no prompt with id 99"):
        add_prompt(mapped_ws, "x", parent_id=99)
    assert settings_from_config(mapped_ws, steps=3).steps == 3


def test_load_pipeline__downloads_when_the_hub_answers_and_not_when_offline(monkeypatch) -> None:
    from diffusers import AutoPipelineForText2Image

    from curator import generation

    calls = []

    def fake_from_pretrained(name, **kwargs):
        calls.append(kwargs)
        raise OSError("stop here")  # what happens after the call is not this test's business

    monkeypatch.setattr(AutoPipelineForText2Image, "from_pretrained", fake_from_pretrained)
    settings = GenerationConfig(model="someone/a-model")
    monkeypatch.setattr(generation, "hub_reachable", lambda: True)
    with pytest.raises(CuratorError, match="from the Hugging Face hub"):
        load_pipeline(settings)
    monkeypatch.setattr(generation, "hub_reachable", lambda: False)
    with pytest.raises(CuratorError, match="from the Hugging Face cache"):
        load_pipeline(settings)
    assert [c["local_files_only"] for c in calls] == [False, True]
    assert calls[0]["torch_dtype"] == torch.float32  # a CPU device


def test_pipeline_dtype__half_on_cuda_only() -> None:
    from curator.generation import pipeline_dtype

    assert pipeline_dtype("cuda") == torch.float16
    assert pipeline_dtype("cuda:1") == torch.float16
    assert pipeline_dtype("cpu") == torch.float32
