"""Fixtures for the studio tests: a tiny LIIF checkpoint, tiny images and a tiny benchmark set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr.weights import save_model
from tests.sr.helpers import tiny_model

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"


def noise_image(path: Path, size: tuple[int, int], seed: int = 0, mode: str = "RGB") -> Path:
    """A smooth random picture (w, h) saved at ``path``; format from the suffix."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize(size, Image.BICUBIC).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LIIF saved as safetensors (what a trained run's checkpoint looks like)."""
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(tiny_model(seed=3), path)
    return path


@pytest.fixture(scope="session")
def tiny_benchmarks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sets in the EDSR layout with two 24×24 HR images each (LR made on the fly)."""
    root = tmp_path_factory.mktemp("benchmarks")
    for set_index, name in enumerate(("SetA", "SetB")):
        for i in range(2):
            noise_image(root / name / "HR" / f"img{i}.png", (24, 24), seed=10 * set_index + i)
    return root


def build_mapped(base: Path, count: int) -> Path:
    """A workspace under ``base`` with ``count`` ingested pictures, embedded offline, mapped.

    Fewer than five images keep the curator on its PCA layout, so no UMAP fit is paid for.
    """
    from curator.embeddings import embed_images
    from curator.ingest import ingest_paths
    from curator.shared_map import update_map
    from curator.workspace import init_workspace
    from tests.curator.helpers import NAMES, natural, save

    for name in NAMES[:count]:
        save(base / "in" / f"{name}.png", natural(name, size=64))
    ws = init_workspace(base / "ws", encoder="efficientnet-lite0")
    report = ingest_paths(ws, [base / "in"])
    assert len(report.added) == count and not report.errors
    embed_images(ws)
    update_map(ws)
    return ws.root


def _private_copy(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import shutil

    from curator.workspace import open_workspace

    root = tmp_path / "ws"
    shutil.copytree(template, root)
    monkeypatch.setenv("CURATOR_WORKSPACE", str(root))
    return open_workspace(root)


@pytest.fixture(scope="session")
def mapped_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four mapped pictures (built once per session)."""
    return build_mapped(tmp_path_factory.mktemp("mapped"), 4)


@pytest.fixture
def mapped_ws(mapped_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the four-picture workspace, set as the studio's workspace."""
    return _private_copy(mapped_template, tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two mapped pictures: room for a generated round while staying on the PCA layout."""
    return build_mapped(tmp_path_factory.mktemp("small"), 2)


@pytest.fixture
def small_ws(small_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the two-picture workspace, set as the studio's workspace."""
    return _private_copy(small_template, tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def tiny_diffusion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Stable Diffusion pipeline (random weights) saved as a diffusers folder."""
    from tests.curator.tiny_diffusion import tiny_pipeline

    folder = tmp_path_factory.mktemp("tiny_sd")
    tiny_pipeline(folder).save_pretrained(folder / "model")
    return folder / "model"
