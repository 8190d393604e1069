"""Gallery page: filters and pages over the catalog, bulk actions, picks, viewer, history."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from streamlit.testing.v1 import AppTest

from curator.catalog import list_images


def _page():
    from curator.studio.feedback import friendly_errors
    from curator.studio.gallery_page import render
    from curator.studio.state import init_state

    init_state()
    with friendly_errors():
        render()


@pytest.fixture(scope="session")
def gallery_template(tmp_path_factory) -> Path:
    """Three clean 256² pictures, a blurred one and a 64² one; embedded offline."""
    from curator.embeddings import embed_images
    from curator.ingest import ingest_paths
    from curator.workspace import init_workspace
    from tests.curator.helpers import natural, save

    base = tmp_path_factory.mktemp("gallery")
    for k, name in enumerate(("astronaut", "chelsea", "coffee")):
        save(base / "in" / f"{k}-{name}.png", natural(name, 256))
    save(base / "in" / "3-blurred.png", cv2.GaussianBlur(natural("rocket", 256), (0, 0), 4))
    save(base / "in" / "4-small.png", natural("astronaut", 64, offset=30))
    ws = init_workspace(base / "ws", encoder="efficientnet-lite0")
    ingest_paths(ws, [base / "in"])
    embed_images(ws)
    return ws.root


@pytest.fixture
def gallery_ws(gallery_template: Path, tmp_path: Path, monkeypatch):
    import shutil

    from curator.workspace import open_workspace

    shutil.copytree(gallery_template, tmp_path / "ws")
    monkeypatch.setenv("CURATOR_WORKSPACE", str(tmp_path / "ws"))
    return open_workspace(tmp_path / "ws")


def _captions(at) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def _status(ws) -> dict[str, str]:
    return {Path(r.original_name).name: r.status for r in list_images(ws)}


def test_gallery__tiles_show_status_and_flags_and_filters_apply(gallery_ws):
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception and not at.error
    captions = _captions(at)
    assert len(captions) == 5 and all(" · pending · " in c for c in captions)
    assert any("blurry" in c for c in captions) and any("too_small" in c for c in captions)
    at.checkbox(key="gal_no_flags").check().run()
    clean = _captions(at)
    assert clean and all(c.endswith("no flags") for c in clean)
    at.checkbox(key="gal_no_flags").uncheck().run()
    at.multiselect(key="gal_flags").set_value(["blurry"]).run()
    assert [c.split(" · ")[0] for c in _captions(at)] == [
        f"#{r.id}" for r in list_images(gallery_ws, flag="blurry")
    ]


def test_gallery__pages(gallery_ws, monkeypatch):
    from curator.studio import gallery_page

    monkeypatch.setattr(gallery_page, "PAGE_SIZES", (2, 4))
    at = AppTest.from_function(_page, default_timeout=60).run()
    ids = [r.id for r in list_images(gallery_ws)]
    assert [c.split(" · ")[0] for c in _captions(at)] == [f"#{i}" for i in ids[:2]]
    at.number_input(key="gal_page").set_value(3).run()
    assert [c.split(" · ")[0] for c in _captions(at)] == [f"#{ids[4]}"]
    assert "5 image(s) match · 3 page(s)" in at.caption[-1].value or any(
        "5 image(s) match · 3 page(s)" in c.value for c in at.caption
    )


def test_gallery__bulk_reject_flagged_accept_clean_then_undo(gallery_ws):
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.button(key="gal_reject_flagged").click().run()
    assert not at.exception and not at.error
    flagged = {Path(r.original_name).name for r in list_images(gallery_ws) if r.flags}
    status = _status(gallery_ws)
    assert {n for n, s in status.items() if s == "rejected"} == flagged
    assert at.toast[0].value == f"Rejected {len(flagged)} flagged pending image(s)."
    at.button(key="gal_accept_clean").click().run()
    assert set(_status(gallery_ws).values()) == {"accepted", "rejected"}
    at.button(key="gal_undo").click().run()
    assert {n for n, s in _status(gallery_ws).items() if s == "pending"} == set(status) - flagged


def test_gallery__picked_tiles_rejected_with_a_reason(gallery_ws):
    ids = [r.id for r in list_images(gallery_ws)]
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.checkbox(key=f"gal_pick_{ids[0]}").check()
    at.checkbox(key=f"gal_pick_{ids[2]}").check()
    at.text_input(key="gal_reason").input("not my domain").run()
    at.button(key="gal_reject").click().run()
    rejected = list_images(gallery_ws, status="rejected")
    assert [r.id for r in rejected] == [ids[0], ids[2]]
    assert {r.status_reason for r in rejected} == {"not my domain"}
    assert not at.checkbox(key=f"gal_pick_{ids[0]}").value  # picks cleared after acting


def test_gallery__viewer_next_similar_and_history(gallery_ws):
    ids = [r.id for r in list_images(gallery_ws)]
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.button(key=f"gal_view_{ids[0]}").click().run()
    assert at.subheader[0].value.startswith(f"#{ids[0]} ")
    at.button(key="gal_next").click().run()
    assert at.subheader[0].value.startswith(f"#{ids[1]} ")
    at.button(key="gal_similar").click().run()
    assert not at.exception and not at.error
    similar = [c for c in _captions(at) if " · " in c and c.count("·") == 1]
    assert len(similar) == 4 and all(f"#{ids[1]} " not in c for c in similar)
    at.button(key="gal_view_reject").click().run()
    assert _status(gallery_ws)[Path(list_images(gallery_ws)[1].original_name).name] == "rejected"
    history = at.dataframe[-1].value
    assert list(history["action"])[:1] == ["reject"] and f"#{ids[1]}" in history["what"][0]


def test_gallery__score_ranges_and_measuring_an_old_catalog(gallery_ws):
    from curator.scores import scores_of

    records = list_images(gallery_ws)
    stored = scores_of(gallery_ws, [r.id for r in records])
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception and not at.info  # every image was measured at ingest
    at.number_input(key="gal_max_sharpness").set_value(50.0).run()
    expected = [r.id for r in records if stored[r.id]["sharpness"] <= 50.0]
    assert expected and len(expected) < len(records)
    assert [c.split(" · ")[0] for c in _captions(at)] == [f"#{i}" for i in expected]

    with gallery_ws.transaction() as conn:  # a catalog from before scores existed
        conn.execute("DELETE FROM scores")
    fresh = AppTest.from_function(_page, default_timeout=60).run()
    assert f"{len(records)} image(s) have no quality scores yet" in fresh.info[0].value
    fresh.button(key="gal_measure").click().run()
    assert not fresh.exception and not fresh.info
    assert scores_of(gallery_ws, [r.id for r in records]) == stored


def test_gallery__measuring_names_the_files_it_could_not_read(gallery_ws):
    from curator.store import image_path

    records = list_images(gallery_ws)
    with gallery_ws.transaction() as conn:
        conn.execute("DELETE FROM scores")
    image_path(gallery_ws, records[0]).write_bytes(b"broken")
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.button(key="gal_measure").click().run()
    assert not at.exception
    assert any(str(image_path(gallery_ws, records[0])) in w.value for w in at.warning)
    assert "1 image(s) have no quality scores yet" in at.info[0].value  # the rest were measured
