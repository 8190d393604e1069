"""Encoder choice: the default decided offline in under a second, and switching a workspace."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from curator import encoder_choice, hub
from curator.config import DEFAULT_CLIP, FALLBACK_ENCODER
from curator.embeddings import embed_images, image_embeddings, switch_encoder
from curator.encoder_choice import EncoderUnavailable, default_encoder
from curator.shared_map import current_fit, update_map
from curator.workspace import init_workspace, open_workspace


@pytest.fixture
def offline_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No network by choice and a Hugging Face cache with nothing in it."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CURATOR_CLIP_WEIGHTS", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _cache_default_clip(cache: Path) -> None:
    """The layout huggingface_hub leaves after downloading the default CLIP."""
    repo = cache / ("models--" + encoder_choice.DEFAULT_CLIP_HUB_REPO.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "open_clip_model.safetensors").write_bytes(b"x")


def test_default_clip_repo_is_the_one_open_clip_downloads() -> None:
    import open_clip

    _, model, tag = encoder_choice.check_encoder_name(DEFAULT_CLIP)
    registry = open_clip.get_pretrained_cfg(model, tag)["hf_hub"].strip("/")
    assert registry == encoder_choice.DEFAULT_CLIP_HUB_REPO


def test_default_encoder__offline_without_weights_is_the_fallback(offline_empty_cache) -> None:
    assert default_encoder() == FALLBACK_ENCODER


def test_default_encoder__clip_when_cached(offline_empty_cache: Path) -> None:
    _cache_default_clip(offline_empty_cache)
    assert default_encoder() == DEFAULT_CLIP


def test_default_encoder__clip_when_the_hub_answers(offline_empty_cache, monkeypatch) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.delenv("HF_HUB_OFFLINE")
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub.hub_reachable()
        assert default_encoder() == DEFAULT_CLIP


def test_hub_reachable__closed_port_and_offline_flag(monkeypatch) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # nothing listens once it is closed
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert not hub.hub_reachable()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub.hub_reachable()


def test_hub_reachable__a_host_that_never_answers_gives_up_at_the_deadline(monkeypatch) -> None:
    # a TEST-NET address: packets go nowhere, so only the deadline ends the probe
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://192.0.2.1")
    start = time.monotonic()
    assert not hub.hub_reachable(timeout=0.3)
    assert time.monotonic() - start < 2.0


def test_hub_reachable__probes_the_proxy_when_one_is_set(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example")
    assert hub._probe_address() == ("proxy.example", 3128)
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy", raising=False)
    assert hub._probe_address() == ("hub.example", 443)


def test_clip_encoder__offline_without_weights_fails_at_once(
    offline_empty_cache, tiny_clip, monkeypatch
) -> None:
    import open_clip

    from curator.encoders import OpenClipEncoder

    def must_not_load(*args, **kwargs):
        raise AssertionError("the hub client would retry for a minute")

    monkeypatch.setattr(open_clip, "create_model_and_transforms", must_not_load)
    with pytest.raises(EncoderUnavailable) as info:
        OpenClipEncoder("curator-tiny-clip", "laion2b_s34b_b79k")
    message = str(info.value)
    assert info.value.reason in message and "cannot be reached" in info.value.reason
    assert f"curator embed WORKSPACE --encoder {FALLBACK_ENCODER}" in message


def test_curator_init__offline_picks_the_fallback_without_torch(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("CURATOR_CLIP_WEIGHTS", None)
    probe = (
        "import json, sys\nfrom curator.cli import main\ncode = main(sys.argv[1:])\n"
        "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "init", str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == {"code": 0, "torch": False}
    assert f"encoder {FALLBACK_ENCODER}" in lines[0]
    assert open_workspace(tmp_path / "ws").config.embedding.encoder == FALLBACK_ENCODER


def test_switch_encoder__re_embeds_refits_and_keeps_the_old_rows(
    tmp_path: Path, tiny_clip: str, ingest_set
) -> None:
    ws = init_workspace(tmp_path / "ws", encoder=FALLBACK_ENCODER)
    ids = ingest_set(ws, tmp_path / "in", 8)
    assert embed_images(ws) == 8
    update_map(ws)
    _, before = image_embeddings(ws)
    assert before.shape == (8, 1280)

    ws = switch_encoder(ws, tiny_clip)
    assert ws.config.embedding.encoder == tiny_clip
    assert open_workspace(ws.root).config.embedding.encoder == tiny_clip  # saved
    assert embed_images(ws) == 8  # every image again
    got_ids, after = image_embeddings(ws)
    assert got_ids == ids and after.shape == (8, 32)
    assert current_fit(ws)["encoder"] == FALLBACK_ENCODER
    assert update_map(ws).fitted  # the old fit named the other encoder
    assert current_fit(ws)["encoder"] == tiny_clip

    ws = switch_encoder(ws, FALLBACK_ENCODER)
    assert embed_images(ws) == 0  # its rows were kept
    np.testing.assert_array_equal(image_embeddings(ws)[1], before)


def test_switch_encoder__unavailable_encoder_changes_nothing(
    tmp_path: Path, tiny_clip: str, offline_empty_cache
) -> None:
    ws = init_workspace(tmp_path / "ws", encoder=FALLBACK_ENCODER)
    config = (ws.root / "curator.yaml").read_text()
    with pytest.raises(EncoderUnavailable):
        switch_encoder(ws, "open_clip:curator-tiny-clip:laion2b_s34b_b79k")
    assert (ws.root / "curator.yaml").read_text() == config
    assert open_workspace(ws.root).config.embedding.encoder == FALLBACK_ENCODER


def test_curator_embed__encoder_flag_switches(
    tmp_path: Path, tiny_clip: str, ingest_set, capsys
) -> None:
    from curator.cli import main

    ws = init_workspace(tmp_path / "ws", encoder=FALLBACK_ENCODER)
    ingest_set(ws, tmp_path / "in", 3)
    assert main(["embed", str(ws.root), "--encoder", tiny_clip]) == 0
    out = capsys.readouterr().out
    assert f"encoder is now {tiny_clip}" in out and "embedded 3 new image(s)" in out
    assert open_workspace(ws.root).config.embedding.encoder == tiny_clip
