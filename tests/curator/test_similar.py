"""Find similar and near-duplicate groups by embedding; the CLI rejects copies reversibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from curator.catalog import get_image
from curator.cli import main
from curator.curation import undo_last
from curator.embeddings import embed_images, image_embeddings
from curator.ingest import ingest_paths
from curator.similar import centroid_cosine, near_duplicate_groups, similar_images
from curator.workspace import Workspace
from tests.curator.helpers import natural, save


def _pictures(ws: Workspace, folder: Path) -> dict[str, int]:
    names = ["astronaut", "coffee", "rocket", "camera"]
    for name in names:
        save(folder / f"{name}.png", natural(name, 224))
    base = natural("chelsea", 224)
    save(folder / "zz_chelsea.png", base)  # ingested after its copies, and the largest
    save(folder / "chelsea_shifted.png", np.ascontiguousarray(base[10:, 12:]))
    smaller = Image.fromarray(base).resize((200, 200), Image.Resampling.LANCZOS)
    save(folder / "chelsea_smaller.png", np.asarray(smaller))
    rocket = Image.fromarray(natural("rocket", 224)).resize((212, 212), Image.Resampling.LANCZOS)
    save(folder / "rocket_shifted.png", np.asarray(rocket))  # a smaller re-save
    report = ingest_paths(ws, [folder])
    embed_images(ws)
    found = {Path(get_image(ws, i).original_name).stem: i for i in report.added}
    found["chelsea"] = found.pop("zz_chelsea")
    return found


def test_near_duplicate_groups__copies_group_with_their_original(
    ws: Workspace, tmp_path: Path
) -> None:
    ids = _pictures(ws, tmp_path / "in")
    # the keeper first: the most pixels (224², then 214x212, then 200²), though ingested last
    expected = [ids[n] for n in ("chelsea", "chelsea_shifted", "chelsea_smaller")]
    rockets = [ids["rocket"], ids["rocket_shifted"]]
    assert ids["chelsea"] > ids["chelsea_shifted"]
    assert sorted(near_duplicate_groups(ws)) == sorted([expected, rockets])


def test_similar_images__cosines_match_a_direct_computation(ws: Workspace, tmp_path: Path) -> None:
    ids = _pictures(ws, tmp_path / "in")
    found = similar_images(ws, ids["chelsea"], k=3)
    assert {n.id for n in found[:2]} == {ids["chelsea_shifted"], ids["chelsea_smaller"]}
    all_ids, data = image_embeddings(ws)
    query = data[all_ids.index(ids["chelsea"])]
    for n in found:
        assert abs(n.cosine - float(data[all_ids.index(n.id)] @ query)) < 1e-5
    cosines = [n.cosine for n in found]
    assert cosines == sorted(cosines, reverse=True)
    mean = data.mean(axis=0)
    direct = float(data[all_ids.index(ids["coffee"])] @ (mean / np.linalg.norm(mean)))
    assert abs(centroid_cosine(ws)[ids["coffee"]] - direct) < 1e-5


def test_cli_duplicates__reject_keeps_the_largest_and_undo_restores(
    ws: Workspace, tmp_path: Path, capsys
) -> None:
    ids = _pictures(ws, tmp_path / "in")
    copies = [ids["chelsea_shifted"], ids["chelsea_smaller"], ids["rocket_shifted"]]
    assert main(["duplicates", str(ws.root), "--reject"]) == 0
    assert "rejected 3 image(s)" in capsys.readouterr().out
    original = ids["chelsea"]
    for i in copies:
        keeper = ids["rocket"] if i == ids["rocket_shifted"] else original
        record = get_image(ws, i)
        assert record.status == "rejected"
        assert record.status_reason == f"near-duplicate of #{keeper}"
    assert get_image(ws, original).status == "pending"
    undo_last(ws)  # one undo restores every group
    assert all(get_image(ws, i).status == "pending" for i in copies)
