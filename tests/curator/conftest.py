"""Curator fixtures: workspaces and small images."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.workspace import Workspace, init_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A fresh workspace using the offline encoder."""
    return init_workspace(tmp_path / "ws", encoder="efficientnet-lite0")


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Register a tiny open_clip config (random weights); returns its encoder name."""
    import json

    import open_clip

    folder = tmp_path_factory.mktemp("clip_cfg")
    (folder / "curator-tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(folder)
    return "open_clip:curator-tiny-clip:none"


def _ingest_set(ws: Workspace, folder: Path, count: int, start: int = 0) -> list[int]:
    from curator.ingest import ingest_paths
    from tests.curator.helpers import NAMES, natural, save

    for k in range(start, start + count):
        name = NAMES[k % len(NAMES)]
        save(folder / f"{k:03d}.png", natural(name, 64, offset=8 * (k // len(NAMES))))
    return ingest_paths(ws, [folder]).added


@pytest.fixture(scope="session")
def mapped_ws_template(tiny_clip: str, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """24 images + 2 prompts, embedded with the tiny CLIP and mapped (fit once per session)."""
    from curator.embeddings import embed_images
    from curator.prompts import add_prompt
    from curator.shared_map import update_map

    root = tmp_path_factory.mktemp("mapped")
    ws = init_workspace(root / "ws", encoder=tiny_clip)
    _ingest_set(ws, root / "in", 24)
    add_prompt(ws, "a photo of a cat")
    add_prompt(ws, "a rocket on the launch pad")
    embed_images(ws)
    update_map(ws)
    return ws


@pytest.fixture
def mapped_ws(mapped_ws_template: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the mapped workspace (safe to change)."""
    import shutil

    from curator.workspace import open_workspace

    shutil.copytree(mapped_ws_template.root, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def ingest_set():
    """``ingest_set(ws, folder, count, start=0)``: ingest ``count`` distinct small pictures."""
    return _ingest_set


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD pipeline saved as a diffusers folder (loaded through ``load_pipeline``)."""
    from tests.curator.tiny_diffusion import tiny_pipeline

    folder = tmp_path_factory.mktemp("tiny_sd")
    tiny_pipeline(folder).save_pretrained(folder / "model")
    return folder / "model"
