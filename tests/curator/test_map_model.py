"""The map model on disk: no pickle, rebuilt exactly, and committed as one unit with its points."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from curator.embeddings import embed_images, image_embeddings
from curator.errors import CuratorError
from curator.map_model import PcaLayout, load_map_model, save_map_model
from curator.shared_map import _fit, current_fit, map_points, update_map
from curator.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def _unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("exact_max", [10_000, 20])  # exact neighbours, then the IVF index
def test_load_map_model__places_new_points_exactly_like_the_fitted_model(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exact_max: int
) -> None:
    monkeypatch.setattr("curator.knn.EXACT_MAX", exact_max)
    # 40 lists of ~5 and 4 of them scanned per query: the IVF answers really are approximate
    monkeypatch.setattr("curator.knn.TRAIN_PER_LIST", 5)
    monkeypatch.setattr("curator.knn.NPROBE", 4)
    data = _unit_rows(200, 16, seed=0)
    fitted, _ = _fit(data, ws)
    assert fitted._knn_search_index.kind == ("ivf" if exact_max < len(data) else "exact")
    path = tmp_path / "fit.safetensors"
    save_map_model(path, fitted)
    rebuilt = load_map_model(path)
    queries = _unit_rows(7, 16, seed=1)
    expected = fitted.transform(queries)
    assert np.array_equal(rebuilt.transform(queries), expected)
    assert b"pickle" not in path.read_bytes() and path.read_bytes()[8:9] == b"{"  # JSON header


def test_load_map_model__pca_layout_round_trip(tmp_path: Path) -> None:
    data = _unit_rows(3, 8, seed=2)
    layout = PcaLayout.fit(data)
    save_map_model(tmp_path / "pca.safetensors", layout)
    rebuilt = load_map_model(tmp_path / "pca.safetensors")
    assert np.array_equal(rebuilt.transform(data), layout.transform(data))


def test_load_map_model__corrupt_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "fit.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CuratorError, match="map model missing or unreadable.*--refit"):
        load_map_model(path)


class _Exploit:
    def __reduce__(self):
        return (Path.write_text, (Path("PWNED"), "ran"))


def test_update_map__never_unpickles_a_workspace_file(
    mapped_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "PWNED"
    monkeypatch.chdir(tmp_path)
    (mapped_ws.map_dir / "umap.pkl").write_bytes(pickle.dumps(_Exploit()))
    (mapped_ws.map_dir / "state.json").write_text(json.dumps({"fit_id": "x", "sha256": "y"}))
    update_map(mapped_ws)
    update_map(mapped_ws, refit=True)
    assert not marker.exists()
    assert len(list(mapped_ws.map_dir.glob("fit-*.safetensors"))) == 1


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import curator.shared_map as shared_map
    from curator.workspace import open_workspace

    real = shared_map.save_map_model

    def save_then_die(path, model):
        real(path, model)  # the new model is on disk, its coordinates are not committed
        os.kill(os.getpid(), signal.SIGKILL)

    shared_map.save_map_model = save_then_die
    shared_map.update_map(open_workspace(sys.argv[1]), refit=True)
    """
)


def test_update_map__kill_during_refit_keeps_one_consistent_fit(
    mapped_ws: Workspace, tmp_path: Path, ingest_set
) -> None:
    before = {p.id: (p.x, p.y) for p in map_points(mapped_ws) if p.kind == "image"}
    fit_before = current_fit(mapped_ws)
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(mapped_ws.root)],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr.decode()
    assert current_fit(mapped_ws) == fit_before  # the catalog still names the old fit
    new_ids = ingest_set(mapped_ws, tmp_path / "more", 3, start=200)
    embed_images(mapped_ws)
    report = update_map(mapped_ws)
    assert not report.fitted and report.fit_id == fit_before["fit_id"]
    points = {p.id: p for p in map_points(mapped_ws) if p.kind == "image"}
    assert {i: (points[i].x, points[i].y) for i in before} == before
    conn = mapped_ws.connect()
    fits = {r[0] for r in conn.execute("SELECT DISTINCT fit_id FROM map_coords")}
    conn.close()
    assert fits == {fit_before["fit_id"]}  # one fit for every point, old and new
    # the new points were placed with the old fit's model: equal to placing them directly
    ids, data = image_embeddings(mapped_ws, new_ids)
    model = load_map_model(mapped_ws.map_dir / f"fit-{fit_before['fit_id']}.safetensors")
    expected = model.transform(data)
    got = np.array([(points[i].x, points[i].y) for i in ids])
    assert np.allclose(got, expected, atol=1e-6)


def test_update_map__waits_for_another_writer_then_says_so(
    mapped_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import curator.shared_map as shared_map

    monkeypatch.setattr(shared_map, "LONG_WAIT_S", 0.5)
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import fcntl, sys, time; h = open(sys.argv[1], 'w'); "
            "fcntl.flock(h, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)"
        ), str(mapped_ws.root / ".writer.lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CuratorError, match="another curator process is writing"):
            update_map(mapped_ws, refit=True)
    finally:
        holder.kill()
        holder.wait()
    assert update_map(mapped_ws).total_images == 24  # free again
