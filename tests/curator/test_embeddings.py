"""Embedding cache, memmapped store, encoder recording, the offline encoder, missing weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import curator.embeddings as embeddings
from curator.catalog import list_images
from curator.config import CONFIG_NAME
from curator.embeddings import ArrayFile, embed_images, embed_texts, image_embeddings
from curator.encoders import EfficientNetLite0Encoder, OpenClipEncoder, efficientnet_weights_path
from curator.errors import CuratorError
from curator.store import image_path, load_rgb
from curator.workspace import Workspace, init_workspace, open_workspace
from tests.curator.helpers import natural


def test_embed_images__cached_by_hash_and_model(
    tiny_clip: str, tmp_path: Path, ingest_set, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = init_workspace(tmp_path / "ws", encoder=tiny_clip)
    ingest_set(ws, tmp_path / "in", 5)
    calls = []
    assert embed_images(ws, progress=lambda d, t: calls.append((d, t))) == 5
    assert calls[-1] == (5, 5)
    ids, matrix = image_embeddings(ws)
    assert ids == [r.id for r in list_images(ws)] and matrix.shape == (5, 32)
    # stored rows are exactly what the encoder gives for the stored file
    encoder = embeddings.get_encoder(ws)
    direct = encoder.encode_images([load_rgb(image_path(ws, r)) for r in list_images(ws)])
    np.testing.assert_allclose(matrix, direct, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)

    def no_loading(*args, **kwargs):
        raise AssertionError("encoder loaded although everything is cached")

    monkeypatch.setattr(embeddings, "get_encoder", no_loading)
    assert embed_images(ws) == 0
    file = next(ws.embeddings_dir.glob("*.f32"))
    assert file.stat().st_size == 5 * 32 * 4  # raw float32 rows, no pickle


def test_embed_images__refuses_to_mix_encoders(mapped_ws: Workspace) -> None:
    config = mapped_ws.root / CONFIG_NAME
    config.write_text(
        config.read_text().replace("open_clip:curator-tiny-clip:none", "efficientnet-lite0")
    )
    ws = open_workspace(mapped_ws.root)
    with pytest.raises(CuratorError, match="refusing to mix"):
        embed_images(ws)


def test_array_file__drops_partial_row_and_memmaps(tmp_path: Path) -> None:
    array = ArrayFile(tmp_path / "a.f32", dim=4)
    first = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert array.append(first) == 0
    with open(array.path, "ab") as handle:
        handle.write(b"\x00" * 6)  # a crash in the middle of a row
    assert array.rows() == 2
    assert array.append(first + 100) == 2
    view = array.read()
    assert isinstance(view, np.memmap) and view.shape == (4, 4)
    np.testing.assert_array_equal(view[2:], first + 100)


def test_embed_texts__cached_and_same_space(mapped_ws: Workspace) -> None:
    texts = ["a cat", "a rocket", "a cat"]
    vectors = embed_texts(mapped_ws, texts)
    assert vectors.shape == (3, 32)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    encoder = embeddings.get_encoder(mapped_ws)
    np.testing.assert_allclose(vectors[:2], encoder.encode_texts(texts[:2]), atol=1e-6)


def test_open_clip_encoder__missing_weights_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    monkeypatch.delenv("CURATOR_CLIP_WEIGHTS", raising=False)
    with pytest.raises(CuratorError) as info:
        OpenClipEncoder("curator-tiny-clip", "laion2b_s34b_b79k")
    message = str(info.value)
    assert "curator-tiny-clip" in message and "CURATOR_CLIP_WEIGHTS" in message
    assert "efficientnet-lite0" in message and "\n" not in message


def test_open_clip_encoder__loads_local_weights_file(
    tiny_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = OpenClipEncoder("curator-tiny-clip", "none")
    with torch.no_grad():
        for p in reference.model.parameters():
            p.add_(0.01)
    path = tmp_path / "tiny.pt"
    torch.save(reference.model.state_dict(), path)
    monkeypatch.setenv("CURATOR_CLIP_WEIGHTS", str(path))
    loaded = OpenClipEncoder("curator-tiny-clip", "some_tag")
    image = [natural("coffee", 40)]
    np.testing.assert_allclose(
        loaded.encode_images(image), reference.encode_images(image), atol=1e-6
    )


def test_efficientnet_encoder__real_features() -> None:
    encoder = EfficientNetLite0Encoder(weights_path=efficientnet_weights_path())
    source = torch.load(efficientnet_weights_path(), map_location="cpu", weights_only=True)
    torch.testing.assert_close(encoder.model.conv_stem.weight, source["_conv_stem.weight"])
    torch.testing.assert_close(encoder.model.classifier.weight, source["_fc.weight"])
    crops = [natural("chelsea", 96), natural("chelsea", 96, offset=40), natural("rocket", 96)]
    vectors = encoder.encode_images(crops)
    assert vectors.shape == (3, 1280)
    same, other = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert same > other + 0.1  # two views of the cat are closer than cat vs rocket
    with pytest.raises(CuratorError, match="images only"):
        encoder.encode_texts(["a cat"])


def test_clip_weights_available__reads_the_cache_without_network(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from curator.encoder_choice import CLIP_WEIGHTS_ENV, clip_weights_available

    monkeypatch.delenv(CLIP_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert not clip_weights_available("ViT-B-32", "laion2b_s34b_b79k")
    repo = tmp_path / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"x")
    assert clip_weights_available("ViT-B-32", "laion2b_s34b_b79k")
    monkeypatch.setenv(CLIP_WEIGHTS_ENV, str(tmp_path / "missing.bin"))
    assert not clip_weights_available("ViT-B-32", "laion2b_s34b_b79k")
