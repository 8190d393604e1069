"""Named training recipes: the YAML files in the project's ``configs/`` folder, by file stem.

``sr train --config finetune-domain`` and the studio's Train page use the name; a path to any
YAML file works as well.
"""

from __future__ import annotations

from pathlib import Path

from sr.config_io import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"


def list_recipes() -> list[str]:
    """Names of the shipped recipes (e.g. ``finetune-domain``), sorted."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml")) if CONFIGS_DIR.is_dir() else []


def resolve_config(spec: str) -> Path:
    """A config file path from a path or a recipe name; one clear error for neither."""
    path = Path(spec)
    if path.is_file():
        return path
    if spec in list_recipes():
        return CONFIGS_DIR / f"{spec}.yaml"
    names = ", ".join(list_recipes()) or "none found"
    raise ConfigError(f"--config {spec}: no such file or recipe (recipes: {names})")
