"""The folders of a workspace: the one place their names are spelled out.

Catalog-free (no SQLite, no config), so the studio can find a workspace's exports, runs and job
records from its root alone; ``Workspace`` takes its folder properties from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkspaceLayout:
    """Where each kind of file lives inside the workspace at ``root``."""

    root: Path

    @property
    def store_dir(self) -> Path:
        """Ingested images, content-addressed."""
        return Path(self.root) / "store"

    @property
    def embeddings_dir(self) -> Path:
        """One embedding array (and its info file) per encoder."""
        return Path(self.root) / "embeddings"

    @property
    def map_dir(self) -> Path:
        """The fitted shared map (``fit-N.safetensors``)."""
        return Path(self.root) / "map"

    @property
    def map_png(self) -> Path:
        """The map picture ``curator sample`` draws: the one picture allowed in the workspace."""
        return Path(self.root) / "map.png"

    @property
    def thumbs_dir(self) -> Path:
        """Cached thumbnails, per size."""
        return Path(self.root) / "thumbs"

    @property
    def exports_dir(self) -> Path:
        """Where the studio puts exports: the one folder inside a workspace an export may use."""
        return Path(self.root) / "exports"

    @property
    def runs_dir(self) -> Path:
        """Where the studio puts training runs."""
        return Path(self.root) / "runs"

    @property
    def studio_dir(self) -> Path:
        """The studio's job records and training logs."""
        return Path(self.root) / "studio"
