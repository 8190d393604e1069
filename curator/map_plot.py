"""A static PNG of the shared map (matplotlib, no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from curator.errors import CuratorError  # noqa: E402
from curator.shared_map import map_points  # noqa: E402
from curator.workspace import Workspace  # noqa: E402
from sr.atomic import atomic_path  # noqa: E402
from sr.safe_paths import UnsafeTargetError, check_target  # noqa: E402

COLOR_BY = ("source", "round", "status")
STATUS_COLORS = {"pending": "#9e9e9e", "accepted": "#2e7d32", "rejected": "#c62828"}


def save_map_png(
    ws: Workspace, path: str | Path, *, color_by: str = "source", thumbnails: bool = False
) -> Path:
    """Draw images (dots coloured by ``color_by``, optionally thumbnails) and prompts (stars)."""
    if color_by not in COLOR_BY:
        raise CuratorError(f"cannot colour by {color_by!r} (one of {', '.join(COLOR_BY)})")
    check_png_target(ws, Path(path))
    points = map_points(ws)
    images = [p for p in points if p.kind == "image"]
    if not images:
        raise CuratorError(f"{ws.root}: the map is empty; run `curator embed` and `curator map`")
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    groups = sorted({getattr(p, color_by) for p in images}, key=str)
    cmap = plt.get_cmap("tab10")
    for n, group in enumerate(groups):
        members = [p for p in images if getattr(p, color_by) == group]
        color = STATUS_COLORS.get(group, cmap(n % 10)) if color_by == "status" else cmap(n % 10)
        label = f"round {group}" if color_by == "round" else str(group)
        ax.scatter(
            [p.x for p in members], [p.y for p in members], s=22, color=color,
            label=f"{label} ({len(members)})", alpha=0.85, edgecolors="none",
        )  # fmt: skip
    if thumbnails:
        _draw_thumbnails(ws, ax, images)
    prompts = [p for p in points if p.kind == "prompt"]
    if prompts:
        ax.scatter(
            [p.x for p in prompts], [p.y for p in prompts], marker="*", s=180, color="black",
            label=f"prompts ({len(prompts)})",
        )  # fmt: skip
        for p in prompts:
            ax.annotate(f"P{p.id}", (p.x, p.y), xytext=(5, 5), textcoords="offset points")
    ax.set_title(f"{ws.root.name}: {len(images)} images, coloured by {color_by}")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="best", fontsize=8, frameon=False)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def check_png_target(ws: Workspace, path: Path) -> None:
    """A map picture is a ``.png`` outside the workspace's own data (``WS/map.png`` is fine)."""
    if path.suffix.lower() != ".png":
        raise CuratorError(f"{path}: the map picture must be a .png file")
    if os.path.realpath(path) == os.path.realpath(ws.map_png):
        return
    try:
        check_target(path, protected=[ws.root], what="map picture")
    except UnsafeTargetError as exc:
        raise CuratorError(str(exc)) from None


def _draw_thumbnails(ws: Workspace, ax, images: list) -> None:
    """Small pictures at their points, framed in the colour of their status."""
    import numpy as np
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    from PIL import Image

    from curator.store import thumbnail

    for p in images:
        with Image.open(thumbnail(ws, p.id, size=128)) as im:
            im.thumbnail((40, 40))
            pixels = np.asarray(im.convert("RGB"))
        box = AnnotationBbox(
            OffsetImage(pixels, zoom=1.0), (p.x, p.y), frameon=True, pad=0.1,
            bboxprops={"edgecolor": STATUS_COLORS.get(p.status, "black"), "linewidth": 1.5},
        )  # fmt: skip
        ax.add_artist(box)
