"""The store: ``load_rgb`` is sr's one 8-bit RGB conversion (alpha on white); thumbnails of a
workspace that cannot be written go to sr's one user cache folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curator.ingest import ingest_paths
from curator.store import load_rgb, thumbnail
from curator.workspace import Workspace
from sr.image_files import ImageData, eight_bit_rgb, read_image, write_image
from sr.user_cache import cache_dir


def _file(folder: Path, kind: str) -> Path:
    rng = np.random.default_rng(3)
    if kind == "palette":
        im = Image.fromarray(rng.integers(0, 4, (6, 5), dtype=np.uint8), "P")
        im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
        im.info["transparency"] = 2
        im.save(folder / "p.png", transparency=2)
        return folder / "p.png"
    channels = 1 if kind == "gray16_alpha" else 3
    pixels = rng.integers(0, 65536, (6, 5, channels), dtype=np.uint16)
    alpha = rng.integers(0, 65536, (6, 5), dtype=np.uint16) if kind == "gray16_alpha" else None
    return write_image(folder / f"{kind}.png", ImageData(pixels, alpha, "PNG"))


@pytest.mark.parametrize("kind", ["palette", "gray16_alpha", "rgb16"])
def test_load_rgb__is_eight_bit_rgb_on_white(tmp_path: Path, kind: str) -> None:
    path = _file(tmp_path, kind)
    expected = eight_bit_rgb(read_image(path), alpha_on_white=True)
    got = load_rgb(path)
    assert got.dtype == np.uint8 and got.shape == (6, 5, 3) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)


def test_thumbnail__read_only_workspace_uses_the_user_cache(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (image_id,) = ingest_paths(ws, [_file(tmp_path, "rgb16")]).added
    assert thumbnail(ws, image_id).parent.parent == ws.thumbs_dir  # a writable one: its own
    read_only = replace(ws, readonly=True)
    monkeypatch.delenv("SR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = thumbnail(read_only, image_id)
    assert first.is_relative_to(tmp_path / "xdg" / "sr-curation-studio" / "thumbs")
    monkeypatch.setenv("SR_CACHE_DIR", str(tmp_path / "moved"))
    moved = thumbnail(read_only, image_id)
    assert moved.is_relative_to(cache_dir() / "thumbs") and cache_dir() == tmp_path / "moved"
    assert moved.relative_to(cache_dir()) == first.relative_to(first.parents[3])
