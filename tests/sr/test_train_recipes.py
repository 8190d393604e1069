"""Named recipes: `sr train --config NAME` finds the shipped YAML; unknown names are one line."""

from __future__ import annotations

import pytest

from sr.config_io import ConfigError
from sr.training.config import load_config
from sr.training.recipes import CONFIGS_DIR, list_recipes, resolve_config


def test_resolve_config__names_and_paths(tmp_path) -> None:
    assert {"finetune-domain", "finetune-cpu", "paper"} <= set(list_recipes())
    assert resolve_config("finetune-domain") == CONFIGS_DIR / "finetune-domain.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text("max_steps: 3\n")
    assert resolve_config(str(own)) == own
    with pytest.raises(ConfigError, match="no such file or recipe.*finetune-domain"):
        resolve_config("no-such-recipe")


def test_finetune_domain__loads_with_the_recipe_keys() -> None:
    config = load_config(resolve_config("finetune-domain"))
    assert config.init == "official" and config.optim.schedule == "cosine"
    assert config.ema_decay > 0 and config.data.replay == "skimage"
    assert 0 < config.data.replay_fraction < 1
    assert config.data.replay_target == "start"  # replay learns the official weights' output
