"""``curator embed WS --ray``: a local Ray (2 CPUs) embeds exactly what one process does, and a
second run after more ingests embeds only the new images (no duplicates, nothing re-done)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from curator.embeddings import embed_images, image_embeddings
from curator.workspace import Workspace, open_workspace
from tests.curator.conftest import _ingest_set


@pytest.fixture(scope="module")
def local_ray():
    import ray  # part of the test install (pyproject's [test] extra)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _embedding_rows(ws: Workspace) -> int:
    with ws.session() as conn:
        return conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]


def test_ray_embed__equals_one_process_and_resumes_without_duplicates(
    ws: Workspace, tmp_path: Path, local_ray, capsys
) -> None:
    _ingest_set(ws, tmp_path / "first", 6)
    assert embed_images(ws) == 6  # one process
    _ingest_set(ws, tmp_path / "second", 7, start=6)
    alone = open_workspace(shutil.copytree(ws.root, tmp_path / "alone"))

    from curator.cli import main

    assert main(["embed", str(ws.root), "--ray"]) == 0  # as a user runs it
    assert "embedded 7 new image(s)" in capsys.readouterr().out
    assert embed_images(alone) == 7
    ids, on_ray = image_embeddings(ws)
    alone_ids, in_process = image_embeddings(alone)
    assert ids == alone_ids and len(ids) == 13
    np.testing.assert_allclose(on_ray, in_process, rtol=0, atol=1e-5)
    assert np.abs(on_ray - on_ray[0]).max() > 0.01  # real, different features
    # nothing embedded twice: one catalog row and one stored row per image
    assert _embedding_rows(ws) == 13
    assert (ws.embeddings_dir / "efficientnet-lite0.f32").stat().st_size == 13 * 4 * on_ray.shape[1]
    assert embed_images(ws, ray=True) == 0


def test_ray_embed__a_broken_stored_file_is_one_line_naming_it(
    ws: Workspace, tmp_path: Path, local_ray
) -> None:
    from curator.catalog import list_images
    from curator.errors import CuratorError

    _ingest_set(ws, tmp_path / "in", 3)
    broken = ws.store_dir / list_images(ws)[1].store_path
    broken.write_bytes(b"not an image any more")
    with pytest.raises(CuratorError, match="embedding on Ray failed") as failure:
        embed_images(ws, ray=True)
    message = str(failure.value)
    assert "\n" not in message and broken.name in message
