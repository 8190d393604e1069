"""Vector clip art for the domain experiment: Debian's openclipart-svg rendered to PNG.

Rules (datasets/openclipart.md): the categories in ``RESERVED`` are kept for evaluation outside
the project, so no SVG in them, and no SVG whose bytes equal one in them, is ever rendered here.
The rest is split by content hash (stable, disjoint): ``test`` (held-out numbers), ``val`` (picks
the best checkpoint) and ``pool`` (training candidates).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

OPENCLIPART = Path("/usr/share/openclipart/svg")
RESERVED = ("animals", "food", "plants", "transportation", "buildings")
APT_PACKAGES = ("openclipart-svg", "librsvg2-bin")
SIDE = 480  # longest side of a render


@dataclass(frozen=True)
class ClipArt:
    """One eligible SVG: its path, content hash and category."""

    svg: Path
    sha256: str
    category: str


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def require_tools(root: Path = OPENCLIPART) -> None:
    """Fail with the command to run when the SVGs or the renderer are missing."""
    if not root.is_dir() or shutil.which("rsvg-convert") is None:
        raise SystemExit(
            f"needs Debian packages {' '.join(APT_PACKAGES)}: run `make domain-data` "
            f"(apt-get install {' '.join(APT_PACKAGES)})"
        )


def eligible_svgs(root: Path = OPENCLIPART) -> list[ClipArt]:
    """Every SVG outside the reserved categories whose bytes match no reserved SVG, one per
    content, sorted by content hash (so splits do not depend on the file system's order)."""
    reserved = {_sha256(p) for name in RESERVED for p in (root / name).rglob("*.svg")}
    found: dict[str, ClipArt] = {}
    for category in sorted(p.name for p in root.iterdir() if p.is_dir()):
        if category in RESERVED:
            continue
        for svg in sorted((root / category).rglob("*.svg")):
            digest = _sha256(svg)
            if digest not in reserved and digest not in found:
                found[digest] = ClipArt(svg, digest, category)
    return [found[d] for d in sorted(found)]


def split_by_hash(items: Iterable[ClipArt], sizes: dict[str, int]) -> dict[str, list[ClipArt]]:
    """Consecutive runs of the hash-sorted list: e.g. ``{"test": 100, "val": 20, "pool": 600}``."""
    ordered = sorted(items, key=lambda c: c.sha256)
    splits, start = {}, 0
    for name, size in sizes.items():
        splits[name] = ordered[start : start + size]
        start += size
    return splits


def render(svg: Path, out: Path, side: int = SIDE) -> bool:
    """Render on white with the longest side ``side``; False if it fails or is (nearly) blank."""
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["rsvg-convert", "-w", str(side), "-h", str(side), "--keep-aspect-ratio",
         "-b", "white", str(svg), "-o", str(out)],
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    if done.returncode != 0 or not out.is_file():
        out.unlink(missing_ok=True)
        return False
    with Image.open(out) as im:
        rgb = np.asarray(im.convert("RGB"))
    ink = (rgb < 245).any(axis=2).mean()
    if ink < 0.02 or min(rgb.shape[:2]) < 192:  # blank, or too thin for x4 training patches
        out.unlink()
        return False
    Image.fromarray(rgb).save(out)  # plain RGB PNG (rsvg writes RGBA)
    return True


def render_split(items: list[ClipArt], folder: Path, limit: int, side: int = SIDE) -> list[Path]:
    """Render ``items`` in order into ``folder`` until ``limit`` good renders exist."""
    made = []
    for item in items:
        if len(made) == limit:
            break
        out = folder / f"{item.category}-{item.sha256[:12]}.png"
        if out.is_file() or render(item.svg, out, side):
            made.append(out)
    return made
