"""Workspace configuration: frozen dataclasses, read once from the workspace's ``curator.yaml``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curator.errors import CuratorError
from sr.atomic import write_atomic
from sr.config_io import ConfigError, check_ranges, from_dict, read_mapping

CONFIG_NAME = "curator.yaml"
DEFAULT_CLIP = "open_clip:ViT-B-32:laion2b_s34b_b79k"
FALLBACK_ENCODER = "efficientnet-lite0"


@dataclass(frozen=True)
class IngestConfig:
    """Validation limits and quality-flag thresholds applied to every new image."""

    max_pixels: int = 200_000_000  # larger images are refused as decompression bombs
    target_scale: int = 4  # largest SR scale the data is meant for
    patch_size: int = 48  # LR training patch side: HR must be >= patch_size * target_scale
    blur_threshold: float = 60.0  # variance of the Laplacian (8-bit gray) below this is "blurry"
    blocking_threshold: float = 1.35  # 8x8 boundary/interior gradient ratio above this is blocky
    near_duplicate_bits: int = 4  # 64-bit dHash Hamming distance at or below this
    near_copy_similarity: float = 0.98  # img2img output this similar to its parent is a near copy
    # finest-octave energy ratio below this: upscaled or soft, a bad HR target
    # (measured by benchmarks/upsampled_threshold.py)
    upsampled_threshold: float = 0.094
    min_jpeg_quality: int = 80  # JPEGs saved below this quality (from their tables) are lossy


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which encoder embeds the images (and prompts, when it is CLIP) and how."""

    encoder: str = DEFAULT_CLIP  # "open_clip:MODEL:PRETRAINED" or "efficientnet-lite0"
    batch_size: int = 16
    device: str = "cpu"


@dataclass(frozen=True)
class MapConfig:
    """UMAP settings of the shared map and of prompt placement."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 0
    prompt_neighbors: int = 8  # images a prompt is placed among
    prompt_temperature: float = 0.05  # softmax temperature over centred cosine similarities

    def __post_init__(self) -> None:
        # UMAP's own checks (UMAP.fit's _validate_parameters) do not run: curator.umap_fit
        # calls its fit steps directly, so the ranges UMAP accepts are checked here.
        check_ranges(
            self,
            {
                "n_neighbors": {"minimum": 2},
                "min_dist": {"minimum": 0, "maximum": 1},  # at most UMAP's spread (1)
                "prompt_neighbors": {"minimum": 1},
                "prompt_temperature": {"minimum": 0, "above": True},
            },
            where="map.",
        )


@dataclass(frozen=True)
class GenerationConfig:
    """Default diffusion settings (sd-turbo: one to four steps, no guidance, usable on a CPU)."""

    model: str = "stabilityai/sd-turbo"
    steps: int = 2
    guidance: float = 0.0
    strength: float = 0.5
    width: int = 512
    height: int = 512
    seed: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class WorkspaceConfig:
    """Everything configurable about one workspace."""

    ingest: IngestConfig = field(default_factory=IngestConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    map: MapConfig = field(default_factory=MapConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)


def config_to_dict(config: WorkspaceConfig) -> dict[str, Any]:
    """Plain nested dict (for YAML)."""
    return asdict(config)


def config_from_dict(data: dict[str, Any], *, source: str = "config") -> WorkspaceConfig:
    """Build a config from a nested dict; unknown keys are an error, missing keys take defaults."""
    # The shared reader checks unknown keys, mappings and value types per field.
    try:
        return from_dict(WorkspaceConfig, data)
    except ConfigError as exc:
        raise CuratorError(f"{source}: {exc}") from None


def load_config(path: Path) -> WorkspaceConfig:
    """Read ``curator.yaml``."""
    try:
        data = read_mapping(path)
    except ConfigError as exc:
        raise CuratorError(str(exc)) from None
    return config_from_dict(data, source=str(path))


def save_config(path: Path, config: WorkspaceConfig) -> None:
    """Write ``curator.yaml`` atomically."""
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    write_atomic(path, text.encode("utf-8"))
