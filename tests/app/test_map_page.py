"""Map page: a (faked) chart selection is rejected exactly, undo restores it, filters apply."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from curator.catalog import Provenance, list_images, set_provenance
from curator.curation import accept, reject
from curator.map_columns import inside, map_columns
from curator.prompts import add_prompt
from curator.shared_map import map_points, update_map
from curator.studio.map_page import (
    build_figure,
    event_selection,
    new_selection,
    selected_image_ids,
)


def _page():
    from curator.studio.feedback import friendly_errors
    from curator.studio.map_page import render
    from curator.studio.state import init_state

    init_state()
    with friendly_errors():
        render()


def _statuses(ws) -> dict[int, str]:
    return {r.id: r.status for r in list_images(ws)}


@pytest.fixture
def prompted_ws(mapped_ws):
    """The four-picture workspace with two prompts on the map and all three statuses."""
    ids = sorted(_statuses(mapped_ws))
    for k, text in enumerate(("a cat on a sofa", "a rocket at dawn")):
        prompt = add_prompt(mapped_ws, text)
        made = Provenance(source="generated", round=1, prompt_id=prompt, seed=k)
        set_provenance(mapped_ws, ids[2 * k : 2 * k + 2], made)
    update_map(mapped_ws)  # places each prompt at the centroid of its images
    accept(mapped_ws, [ids[0]])
    reject(mapped_ws, [ids[1]], reason="blurry")
    return mapped_ws


def test_map_page__reject_exactly_the_selection_then_undo(mapped_ws):
    ids = sorted(_statuses(mapped_ws))
    chosen = ids[1:3]
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception and not at.error
    assert at.get("plotly_chart")
    at.session_state["map_selection"] = chosen  # what a box selection on the chart sets
    at.run()
    assert at.subheader[0].value == "Selection: 2 image(s)"
    (grid,) = at.get("image")  # the thumbnail grid shows exactly the selection
    assert [img.caption for img in grid.proto.imgs] == [f"#{i}" for i in chosen]

    at.text_input(key="map_reason").input("blurry")
    at.button(key="map_reject").click().run()
    assert not at.exception and not at.error
    after = _statuses(mapped_ws)
    assert {i for i, s in after.items() if s == "rejected"} == set(chosen)
    assert all(after[i] == "pending" for i in ids if i not in chosen)
    assert {r.status_reason for r in list_images(mapped_ws, status="rejected")} == {"blurry"}
    assert at.toast[0].value == "Rejected 2 image(s)."  # a toast: nothing above the chart moves
    assert not at.success
    # the selection and its outline are gone (a new chart key), so the next drag starts fresh
    assert at.session_state["map_selection"] == [] and at.session_state["map_chart_rev"] == 1

    at.button(key="map_undo").click().run()
    assert set(_statuses(mapped_ws).values()) == {"pending"}
    assert at.toast[0].value.startswith("Undone:")


def test_map_page__accept_and_status_filter(mapped_ws):
    ids = sorted(_statuses(mapped_ws))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.session_state["map_selection"] = [ids[0]]
    at.run()
    assert f"#{ids[0]}" == at.get("image")[0].proto.imgs[0].caption  # one point: a preview
    assert "source **original**" in at.markdown[-1].value
    at.button(key="map_accept").click().run()
    assert _statuses(mapped_ws)[ids[0]] == "accepted"
    assert at.toast[0].value == "Accepted 1 image(s)."
    at.multiselect(key="map_status").set_value(["accepted"]).run()
    assert not at.exception
    assert at.caption[0].value.startswith("1 image(s) shown")


def test_map_page__colour_by_status_by_default(mapped_ws):
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert at.selectbox(key="map_color_by").value == "status"


def test_map_page__pictures_on_the_map_for_a_small_selection(mapped_ws):
    ids = sorted(_statuses(mapped_ws))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.toggle(key="map_pictures").set_value(True).run()
    # fewer images than the limit: every shown image gets its picture
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(figure["layout"]["images"]) == len(ids)
    at.session_state["map_selection"] = ids[:3]
    at.run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    pictures = figure["layout"]["images"]
    assert len(pictures) == 3 and all(
        p["source"].startswith("data:image/jpeg;base64,") for p in pictures
    )
    points = {p.id: p for p in map_points(mapped_ws)}
    assert sorted((p["x"], p["y"]) for p in pictures) == sorted(
        (points[i].x, points[i].y) for i in ids[:3]
    )


def test_map_page__pictures_wait_for_a_smaller_set(mapped_ws, monkeypatch):
    from curator.studio import map_page

    monkeypatch.setattr(map_page, "MAP_THUMB_LIMIT", 3)  # the workspace shows 4
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.toggle(key="map_pictures").set_value(True).run()
    assert not at.exception
    assert any("up to 3 images" in c.value for c in at.caption)
    assert "images" not in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]


def test_selected_image_ids__keeps_images_drops_prompts():
    event = {
        "selection": {
            "points": [
                {"customdata": [7, 0]},
                {"customdata": [3, 0]},
                {"customdata": [7, 0]},
                {"customdata": [1, 1]},  # a prompt star
                {"customdata": {"0": 9, "1": 0}},  # how the browser sends a typed-array row
                {"x": 0.0},
            ]
        }
    }
    assert selected_image_ids(event) == [3, 7, 9]
    assert selected_image_ids(None) == []


def test_build_figure__every_point_once_with_its_id(mapped_ws):
    columns = map_columns(mapped_ws)
    fig = build_figure(columns, columns.mask({"status": ["pending"]}), "source")
    carried = sorted(int(row[0]) for trace in fig.data for row in trace.customdata)
    assert carried == sorted(p.id for p in map_points(mapped_ws) if p.kind == "image")
    assert not fig.layout.images  # few points: markers only, no density picture


def test_build_figure__status_colours_prompts_flagged_and_view_kept(prompted_ws):
    from curator.map_plot import STATUS_COLORS

    points = map_points(prompted_ws)
    images = [p for p in points if p.kind == "image"]
    prompts = [p for p in points if p.kind == "prompt"]
    assert len(prompts) == 2 and {p.status for p in images} == {"pending", "accepted", "rejected"}
    columns = map_columns(prompted_ws)
    fig = build_figure(columns, columns.mask({}), "status")
    by_name = {trace.name: trace for trace in fig.data}
    assert set(by_name) == {"pending", "accepted", "rejected", "prompts"}
    for status in ("pending", "accepted", "rejected"):
        assert by_name[status].marker.color == STATUS_COLORS[status]
        assert sorted(int(row[0]) for row in by_name[status].customdata) == sorted(
            p.id for p in images if p.status == status
        )
        assert all(int(row[1]) == 0 for row in by_name[status].customdata)
    assert sorted(int(r[0]) for r in by_name["prompts"].customdata) == sorted(p.id for p in prompts)
    assert all(int(row[1]) == 1 for row in by_name["prompts"].customdata)
    assert by_name["prompts"].marker.symbol == "star"
    # zoom survives reruns and the lasso is the default tool
    assert fig.layout.uirevision.startswith("map") and fig.layout.dragmode == "lasso"
    # larger groups first: the few rejects are drawn over the many pending points
    sizes = [len(t.customdata) for t in fig.data if t.name != "prompts"]
    assert sizes == sorted(sizes, reverse=True)
    assert fig.data[-1].name == "prompts"
    (rejected,) = [p for p in images if p.status == "rejected"]
    row = by_name["rejected"].customdata[0]
    assert list(row) == [rejected.id, 0, rejected.round, len(rejected.flags)]
    assert "round %{customdata[2]}" in by_name["rejected"].hovertemplate
    assert fig.layout.legend.orientation == "h"  # under the plot, not under the toolbar
    by_prompt = {t.name for t in build_figure(columns, columns.mask({}), "prompt").data}
    assert {f"prompt {p.id}" for p in prompts} <= by_prompt


def test_build_figure__axes_do_not_move_when_a_filter_hides_points(prompted_ws):
    columns = map_columns(prompted_ws)
    everything = build_figure(columns, columns.mask({}), "status")
    filtered = build_figure(columns, columns.mask({"status": ["rejected"]}), "status")
    assert everything.layout.xaxis.range == filtered.layout.xaxis.range
    assert everything.layout.yaxis.range == filtered.layout.yaxis.range
    xs = [p.x for p in map_points(prompted_ws)]
    low, high = everything.layout.xaxis.range
    assert low < min(xs) and high > max(xs)


def test_build_figure__many_points_as_density_under_a_sample(prompted_ws, monkeypatch):
    from curator.studio import map_page

    monkeypatch.setattr(map_page, "MARKER_LIMIT", 2)  # the workspace has 4 images
    monkeypatch.setattr(map_page, "SAMPLE_LIMIT", 3)
    columns = map_columns(prompted_ws)
    fig = build_figure(columns, columns.mask({}), "status", prompts=False)
    (layer,) = fig.layout.images
    assert layer.layer == "below" and layer.source.startswith("data:image/webp;base64,")
    import base64
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(base64.b64decode(layer.source.split(",", 1)[1])))
    assert picture.format == "WEBP" and picture.width == map_page.DENSITY_WIDTH
    # the picture covers exactly the axes' window
    assert [layer.x, layer.x + layer.sizex] == pytest.approx(list(fig.layout.xaxis.range))
    assert [layer.y - layer.sizey, layer.y] == pytest.approx(list(fig.layout.yaxis.range))
    sampled = [int(row[0]) for trace in fig.data for row in trace.customdata]
    assert len(sampled) == 3 and len(set(sampled)) == 3
    assert {trace.type for trace in fig.data} == {"scatter"}  # SVG: no WebGL context to make
    names = sorted(trace.name for trace in fig.data)
    counts = {s: int((columns.status == k).sum()) for k, s in enumerate(map_page.STATUSES)}
    assert names == sorted(f"{s} ({n})" for s, n in counts.items() if n)
    # zoomed into a window with few points: single markers again, the axes on the window
    rows = np.argsort(columns.x)[:2]
    window = [[float(columns.x[rows].min()), float(columns.x[rows].max())], [-1e9, 1e9]]
    zoomed = build_figure(columns, columns.mask({}), "status", prompts=False, window=window)
    assert not zoomed.layout.images and {t.type for t in zoomed.data} == {"scattergl"}
    assert sorted(int(r[0]) for t in zoomed.data for r in t.customdata) == sorted(
        columns.ids[rows].tolist()
    )
    assert list(zoomed.layout.xaxis.range) == window[0]


def test_event_selection__box_and_lasso_resolved_over_all_shown_points(prompted_ws):
    columns = map_columns(prompted_ws)
    shown = columns.mask({"status": ["pending", "accepted"]})
    x0, x1 = np.quantile(columns.x, [0.2, 0.8]).tolist()  # the middle two of four in x
    y0, y1 = float(columns.y.min()) - 1, float(columns.y.max()) + 1
    box = {"selection": {"points": [], "box": [{"x": [x1, x0], "y": [y0, y1]}], "lasso": []}}
    plainly = [
        int(i)
        for i, x, y, keep in zip(columns.ids, columns.x, columns.y, shown, strict=True)
        if keep and x0 <= x <= x1 and y0 <= y <= y1
    ]
    assert event_selection(box, columns, shown) == plainly and plainly
    lasso_x, lasso_y = [x0, x1, x0], [y0, y0, y1]
    lasso = {"selection": {"points": [], "box": [], "lasso": [{"x": lasso_x, "y": lasso_y}]}}
    triangle = list(zip(lasso_x, lasso_y, strict=True))
    expected = columns.ids[inside(columns, triangle) & shown].tolist()
    assert event_selection(lasso, columns, shown) == expected
    click = {"selection": {"points": [{"customdata": [5, 0]}], "box": [], "lasso": []}}
    assert event_selection(click, columns, shown) == [5]


def test_map_page__density_mode_zoom_to_selection_and_back(prompted_ws, monkeypatch):
    from curator.studio import map_page

    monkeypatch.setattr(map_page, "MARKER_LIMIT", 2)  # the workspace has 4 images
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception and not at.error
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(figure["layout"]["images"]) == 1  # the density picture
    assert any("drawn as density" in c.value for c in at.caption)
    columns = map_columns(prompted_ws)
    chosen = columns.ids[np.argsort(columns.x)[:1]].tolist()
    at.session_state["map_selection"] = chosen
    at.run()
    at.button(key="map_zoom").click().run()
    assert not at.exception
    (x0, x1), (y0, y1) = at.session_state["map_window"]
    rows = np.isin(columns.ids, chosen)
    assert x0 < columns.x[rows].min() and x1 > columns.x[rows].max()
    assert y0 < columns.y[rows].min() and y1 > columns.y[rows].max()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert figure["layout"]["xaxis"]["range"] == [x0, x1]
    assert not figure["layout"].get("images")  # few points in the window: markers
    at.button(key="map_whole").click().run()
    assert at.session_state["map_window"] is None
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(figure["layout"]["images"]) == 1


def test_catalog_version__changes_on_every_status_write(mapped_ws):
    from curator.catalog import catalog_version
    from curator.curation import reject, undo_last

    seen = [catalog_version(mapped_ws.db_path)]
    reject(mapped_ws, [1])
    seen.append(catalog_version(mapped_ws.db_path))
    undo_last(mapped_ws)
    seen.append(catalog_version(mapped_ws.db_path))
    assert len(set(seen)) == 3


def test_catalog_version__a_checkpoint_alone_keeps_it_and_any_commit_moves_it(mapped_ws, tmp_path):
    """Copying the write-ahead log into the file changes no content: no redraw of the map."""
    import shutil
    import sqlite3

    from curator.catalog import catalog_version
    from curator.workspace import wait_for_checkpoints

    wait_for_checkpoints()
    catalog_version(mapped_ws.db_path)
    other = sqlite3.connect(mapped_ws.db_path)  # as another process would
    other.execute("PRAGMA wal_autocheckpoint = 0")
    other.execute("INSERT INTO meta VALUES ('note', 'x')")
    other.commit()  # in the log only
    before = catalog_version(mapped_ws.db_path)
    stat = mapped_ws.db_path.stat()
    other.execute("PRAGMA wal_checkpoint(PASSIVE)")  # as the background and auto checkpoints
    assert mapped_ws.db_path.stat().st_mtime_ns != stat.st_mtime_ns  # the file was written
    assert catalog_version(mapped_ws.db_path) == before
    other.execute("INSERT INTO meta VALUES ('note 2', 'x')")
    other.commit()
    other.close()
    after = catalog_version(mapped_ws.db_path)
    assert after != before
    assert catalog_version(mapped_ws.db_path) == after  # asking again changes nothing
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(mapped_ws.db_path, copy)
    copy.replace(mapped_ws.db_path)  # another catalog file under the same name
    assert catalog_version(mapped_ws.db_path) not in (before, after)


def test_catalog_version__lets_go_of_deleted_catalogs_and_never_repeats_a_token(
    tmp_path, monkeypatch
):
    import sqlite3

    from curator import catalog

    monkeypatch.setattr(catalog, "MAX_WATCHES", 2)
    paths = []
    for name in "abc":
        path = tmp_path / f"{name}.sqlite"
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        paths.append(path)
    first = catalog.catalog_version(paths[0])
    for path in paths[1:]:
        catalog.catalog_version(path)  # the third one drops the oldest watch (a)
    assert str(paths[0]) not in catalog._WATCHES and len(catalog._WATCHES) <= 2
    assert catalog.catalog_version(paths[0]) != first  # a new watch: a new token
    paths[1].unlink()
    assert catalog.catalog_version(paths[1]) == (str(paths[1]), None)
    assert str(paths[1]) not in catalog._WATCHES  # its connection closed


def test_new_selection__the_same_outline_keeps_a_selection_after_the_catalog_changes(prompted_ws):
    columns = map_columns(prompted_ws)
    drawn = columns.mask({"status": ["pending"]})
    x0, x1 = float(columns.x.min()) - 1, float(columns.x.max()) + 1
    y0, y1 = float(columns.y.min()) - 1, float(columns.y.max()) + 1
    box = {"selection": {"points": [], "box": [{"x": [x0, x1], "y": [y0, y1]}], "lasso": []}}
    seen, ids = new_selection(box, "", columns, drawn)
    assert ids == columns.ids[drawn].tolist() and ids
    reject(prompted_ws, ids[:1])  # e.g. another tab; the status filter would now drop it
    later = map_columns(prompted_ws, columns)
    assert new_selection(box, seen, later, later.mask({"status": ["pending"]})) == (seen, None)


def test_cached_figure__only_points_in_the_zoom_window_are_shown_and_selectable(prompted_ws):
    from curator.catalog import catalog_version
    from curator.studio import map_page

    columns = map_columns(prompted_ws)
    order = np.argsort(columns.x)
    window = [[float(columns.x[order[0]]) - 1e-6, float(columns.x[order[1]]) + 1e-6], [-1e9, 1e9]]
    token = catalog_version(prompted_ws.db_path)
    _, drawn = map_page._cached_figure(
        str(prompted_ws.root), token, "status", "{}", False, json.dumps(window)
    )
    assert sorted(columns.ids[drawn].tolist()) == sorted(columns.ids[order[:2]].tolist())
    everywhere = {
        "selection": {"points": [], "lasso": [], "box": [{"x": [-1e9, 1e9], "y": [-1e9, 1e9]}]}
    }
    assert sorted(event_selection(everywhere, columns, drawn)) == sorted(
        columns.ids[order[:2]].tolist()
    )
