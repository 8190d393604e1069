"""Loading builds the architecture a checkpoint names, and refuses names it does not know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sr.models.registry import ARCHITECTURES, build_model
from sr.weights import CONFIG_KEY, WeightsError, load_model, save_model
from tests.sr.helpers import tiny_model


def test_load_model__rebuilds_the_saved_architecture(tmp_path: Path) -> None:
    model = tiny_model(seed=4, local_ensemble=False)
    save_model(model, tmp_path / "tiny.safetensors")
    loaded = load_model(tmp_path / "tiny.safetensors")
    assert loaded.config == model.config  # not the default architecture
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_load_model__unknown_architecture_is_one_clear_error(tmp_path: Path) -> None:
    model = tiny_model()
    spec = json.loads(model.config.to_json())
    spec["name"] = "liif-rdn"
    path = tmp_path / "rdn.safetensors"
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={CONFIG_KEY: json.dumps(spec)})
    with pytest.raises(WeightsError, match="unknown architecture 'liif-rdn'.*liif-edsr"):
        load_model(path)


def test_build_model__every_registered_name_round_trips() -> None:
    for name in ARCHITECTURES:
        spec = json.dumps({"name": name, "args": {"n_resblocks": 1, "n_feats": 8}})
        model = build_model(spec)
        assert json.loads(model.config.to_json())["name"] == name
