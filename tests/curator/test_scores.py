"""Quality scores: measured at ingest for every image, range filters and order, a backfill for
catalogs made before scores existed, and the CLI (`curator list --min/--max`, `curator scores`)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from curator.catalog import list_images
from curator.cli import main
from curator.errors import CuratorError
from curator.ingest import ingest_paths
from curator.quality import blockiness, finest_octave_ratio, image_scores
from curator.scores import (
    SCORES,
    fill_missing_scores,
    images_without_scores,
    score_summary,
    scores_of,
)
from curator.store import image_path
from sr.image_files import eight_bit_pixels, read_image
from tests.curator.helpers import natural, save


@pytest.fixture
def scored_ws(ws, tmp_path: Path):
    """Three sharp pictures, two blurred ones (σ 2 and 4) and a gray one."""
    folder = tmp_path / "in"
    for k, name in enumerate(("astronaut", "chelsea", "coffee")):
        save(folder / f"{k}-{name}.png", natural(name, 192))
    for k, sigma in ((3, 2), (4, 4)):
        blurred = cv2.GaussianBlur(natural("rocket", 192), (0, 0), sigma)
        save(folder / f"{k}-blur{sigma}.png", blurred)
    gray = cv2.cvtColor(natural("camera", 192), cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(folder / "5-gray.png"), gray)
    ingest_paths(ws, [folder])
    return ws


def _laplacian_variance(rgb: np.ndarray) -> float:
    """Straight from the definition: variance of the 3×3 Laplacian of the gray image."""
    gray = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray.astype(np.float64), cv2.CV_64F).var())


def test_ingest__stores_every_score_of_every_image(scored_ws) -> None:
    assert set(image_scores(np.zeros((64, 64, 3), np.uint8))) == set(SCORES)
    records = list_images(scored_ws)
    stored = scores_of(scored_ws, [r.id for r in records])
    for record in records:
        pixels = eight_bit_pixels(read_image(image_path(scored_ws, record)))
        assert stored[record.id]["fine_detail"] == pytest.approx(finest_octave_ratio(pixels))
        assert stored[record.id]["blocking"] == pytest.approx(blockiness(pixels))
        assert set(stored[record.id]) == set(SCORES)
    by_name = {Path(r.original_name).name: stored[r.id]["sharpness"] for r in records}
    # the blur makes sharpness fall, and the flag agrees with the stored value
    assert by_name["0-astronaut.png"] > by_name["3-blur2.png"] > by_name["4-blur4.png"]
    for record in records:
        blurry = stored[record.id]["sharpness"] < scored_ws.config.ingest.blur_threshold
        assert ("blurry" in record.flags) == blurry


def test_sharpness__is_the_laplacian_variance_of_a_full_size_picture(ws, tmp_path) -> None:
    # a picture small enough that quality measures it whole (no reduction)
    rgb = natural("astronaut", 96)
    save(tmp_path / "in" / "a.png", rgb)
    ingest_paths(ws, [tmp_path / "in"])
    (record,) = list_images(ws)
    assert scores_of(ws, [record.id])[record.id]["sharpness"] == pytest.approx(
        _laplacian_variance(rgb), rel=1e-3
    )


def test_list_images__score_ranges_and_order(scored_ws) -> None:
    records = list_images(scored_ws)
    stored = scores_of(scored_ws, [r.id for r in records])
    sharp = sorted(stored[r.id]["sharpness"] for r in records)
    cut = (sharp[1] + sharp[2]) / 2
    low = list_images(scored_ws, max_score={"sharpness": cut})
    assert [r.id for r in low] == [r.id for r in records if stored[r.id]["sharpness"] <= cut]
    assert len(low) == 2
    both = list_images(scored_ws, min_score={"sharpness": cut}, max_score={"blocking": 10.0})
    expected = [
        r.id
        for r in records
        if stored[r.id]["sharpness"] >= cut and stored[r.id]["blocking"] <= 10.0
    ]
    assert [r.id for r in both] == expected
    ordered = list_images(scored_ws, sort="sharpness")
    assert [stored[r.id]["sharpness"] for r in ordered] == sharp
    with pytest.raises(CuratorError, match="unknown score"):
        list_images(scored_ws, min_score={"colour": 1})


def test_fill_missing_scores__gives_an_old_catalog_the_same_scores(scored_ws) -> None:
    ids = [r.id for r in list_images(scored_ws)]
    before = scores_of(scored_ws, ids)
    with scored_ws.transaction() as conn:  # a catalog from before scores: none stored
        conn.execute("DELETE FROM scores")
    assert [i for i, _ in images_without_scores(scored_ws)] == ids
    assert list_images(scored_ws, min_score={"sharpness": 0}) == []  # unmeasured: no match
    assert fill_missing_scores(scored_ws) == len(ids)
    after = scores_of(scored_ws, ids)
    assert after == before  # exactly what ingest measured
    assert images_without_scores(scored_ws) == [] and fill_missing_scores(scored_ws) == 0


def test_fill_missing_scores__an_unreadable_file_is_one_line_and_the_rest_go_on(scored_ws):
    records = list_images(scored_ws)
    with scored_ws.transaction() as conn:
        conn.execute("DELETE FROM scores")
    broken = image_path(scored_ws, records[0])
    broken.write_bytes(b"not an image any more")
    lines: list[str] = []
    assert fill_missing_scores(scored_ws, warn=lines.append) == len(records) - 1
    assert len(lines) == 1 and str(broken) in lines[0]
    assert [i for i, _ in images_without_scores(scored_ws)] == [records[0].id]


def test_cli__list_by_score_and_scores_summary(scored_ws, capsys) -> None:
    root = str(scored_ws.root)
    records = list_images(scored_ws)
    stored = scores_of(scored_ws, [r.id for r in records])
    assert main(["list", root, "--max", "sharpness=50", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [r.id for r in records if stored[r.id]["sharpness"] <= 50]
    assert all(r["scores"] == stored[r["id"]] for r in rows)
    with pytest.raises(SystemExit) as exit_info:
        main(["list", root, "--min", "colour=3"])
    assert exit_info.value.code == 2
    assert "SCORE=VALUE with SCORE one of sharpness" in capsys.readouterr().err

    assert main(["scores", root, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["filled"] == 0 and report["scores"] == score_summary(scored_ws)
    values = sorted(v["sharpness"] for v in stored.values())
    assert report["scores"]["sharpness"]["median"] == pytest.approx(float(np.median(values)))
    assert report["scores"]["sharpness"]["images"] == len(records)


def test_unmeasured_images__counted_cheaply_and_sorted_last(scored_ws) -> None:
    from curator.scores import count_without_scores

    records = list_images(scored_ws)
    assert count_without_scores(scored_ws) == 0
    with scored_ws.transaction() as conn:
        conn.execute("DELETE FROM scores WHERE image_id IN (?, ?)", (records[0].id, records[3].id))
    assert count_without_scores(scored_ws) == 2 == len(images_without_scores(scored_ws))
    ordered = [r.id for r in list_images(scored_ws, sort="sharpness")]
    assert set(ordered[-2:]) == {records[0].id, records[3].id}  # not "the blurriest"


def test_cli_scores__a_read_only_workspace_prints_its_ranges(scored_ws, capsys) -> None:
    from tests.faults import read_only

    with scored_ws.transaction() as conn:
        conn.execute("DELETE FROM scores WHERE image_id = 1")
    with read_only(scored_ws.root) as ro:
        capsys.readouterr()
        assert main(["scores", str(ro)]) == 0
        out = capsys.readouterr().out
    assert "1 image(s) have no scores; a read-only workspace cannot store them" in out
    assert "sharpness" in out and "median" in out


def test_list_by_score__every_page_and_filter_matches_a_plain_sort(scored_ws) -> None:
    from curator.curation import reject

    records = list_images(scored_ws)
    ids = [r.id for r in records]
    with scored_ws.transaction() as conn:  # two unmeasured, and a tie broken by id
        conn.execute("DELETE FROM scores WHERE image_id IN (?, ?)", (ids[1], ids[4]))
        conn.execute("UPDATE scores SET value = 7 WHERE name = 'sharpness' AND image_id IN (?, ?)",
                     (ids[5], ids[2]))  # fmt: skip
    reject(scored_ws, [ids[0], ids[4]])
    sharpness = {i: s["sharpness"] for i, s in scores_of(scored_ws, ids).items() if s}
    assert len(sharpness) == len(ids) - 2
    for status in (None, "pending", "rejected"):
        chosen = [r.id for r in list_images(scored_ws, status=status)]
        plain = sorted(
            chosen,
            key=lambda i: (i not in sharpness, sharpness.get(i, 0), i),
        )
        assert [r.id for r in list_images(scored_ws, sort="sharpness", status=status)] == plain
        for limit in (1, 2, 4):
            for offset in range(len(chosen) + 2):
                page = list_images(
                    scored_ws, sort="sharpness", status=status, limit=limit, offset=offset
                )
                assert [r.id for r in page] == plain[offset : offset + limit], (limit, offset)
