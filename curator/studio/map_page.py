"""Map page: images and prompts on the shared map; select → thumbnails → reject/accept/undo."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from curator.catalog import SOURCES, STATUSES, catalog_version
from curator.map_columns import NO_PROMPT, MapColumns, box_polygon, inside, map_columns
from curator.map_density import density_image
from curator.map_plot import STATUS_COLORS  # the map PNG and the page share the colours
from curator.studio.feedback import show_error
from curator.studio.state import open_current
from curator.studio.thumbs import thumbnail_paths
from curator.workspace import open_workspace

COLOR_BY = ("status", "source", "round", "prompt")  # status first: a reject shows at once
GRID_LIMIT = 24  # thumbnails drawn per selection (cold ones cost ~5 ms each); actions use all
MAP_THUMB_LIMIT = 150  # pictures drawn on the map itself (each is a few kB sent to the browser)
MAP_THUMB_SIZE = 64
# More points than this in view are drawn as a density picture plus a sample of markers to hover
# and select on (benchmarks/app_latency.py: 10k markers rerun in ~0.5 s, 100k would not).
MARKER_LIMIT = 20_000
# The sample over a density picture is drawn as SVG: a fresh chart (after every Reject) then needs
# no WebGL context: reject → rerun p95 1.27–1.31 s against 1.45–1.62 s for 5,000 WebGL markers
# at 1M points (back-to-back runs of benchmarks/app_latency.py with the two drawings switched).
SAMPLE_LIMIT = 2_000
DENSITY_WIDTH = 800
CHART_KEY = "map_chart"
PALETTE = plotly.colors.qualitative.Plotly


@st.cache_resource(max_entries=2, show_spinner=False)
def _columns_holder(root: str) -> dict:
    # one per workspace, shared by every browser tab: {"lock", "latest": (token, MapColumns)}
    return {"lock": threading.Lock(), "latest": None}


def current_columns(root: str, token: tuple) -> MapColumns:
    """The map's columns at ``token``: after a status change only statuses and flags are read."""
    holder = _columns_holder(root)
    with holder["lock"]:  # two tabs rerunning at once must not pair a token with older columns
        latest = holder["latest"]
        if latest is None or latest[0] != token:
            previous = latest[1] if latest is not None else None
            holder["latest"] = (token, map_columns(open_workspace(root), previous))
        return holder["latest"][1]


@st.cache_resource(max_entries=8, show_spinner=False)
def _cached_figure(
    root: str, token: tuple, color_by: str, filters: str, prompts: bool, window: str
) -> tuple[go.Figure, np.ndarray]:
    columns = current_columns(root, token)
    window_ranges = json.loads(window)
    *_, shown = view(columns, columns.mask(json.loads(filters)), window_ranges)
    fig = build_figure(columns, shown, color_by, prompts=prompts, window=window_ranges)
    # Same data → same revision: the browser's Plotly.react then skips recomputing 10k points on
    # a rerun, where it would otherwise treat every freshly parsed array as new data.
    fig.update_layout(datarevision=json.dumps([token, color_by, filters, prompts, window]))
    return fig, shown


def color_groups(columns: MapColumns, color_by: str) -> tuple[np.ndarray, list[str]]:
    """Each image's group index under ``color_by`` and the groups' names."""
    if color_by == "status":
        return columns.status.astype(np.int64), list(STATUSES)
    if color_by == "source":
        return columns.source.astype(np.int64), list(SOURCES)
    values = columns.round if color_by == "round" else columns.prompt_id
    unique, codes = np.unique(values, return_inverse=True)
    if color_by == "round":
        return codes, [str(v) for v in unique.tolist()]
    names = [f"prompt {v}" if v != NO_PROMPT else "no prompt" for v in unique.tolist()]
    return codes, names


def _trace(
    x: np.ndarray,
    y: np.ndarray,
    customdata: np.ndarray,
    *,
    name: str,
    marker: dict,
    hover: str,
    webgl: bool = True,
) -> go.Scattergl | go.Scatter:
    return (go.Scattergl if webgl else go.Scatter)(
        x=x.astype(np.float32),
        y=y.astype(np.float32),
        # integers only: a typed array, cheap to send at 10k points (strings per point were not)
        customdata=customdata.astype(np.int64),
        mode="markers",
        name=name,
        marker=marker,
        hovertemplate=hover,
    )


def frame_ranges(columns: MapColumns) -> tuple[list[float], list[float]]:
    """Ranges around every point with a margin: filters then never move or rescale the map."""
    xs = np.concatenate([columns.x, columns.prompt_x])
    ys = np.concatenate([columns.y, columns.prompt_y])
    pad_x = max(float(np.ptp(xs)) * 0.04, 1e-3)
    pad_y = max(float(np.ptp(ys)) * 0.04, 1e-3)
    return (
        [float(xs.min()) - pad_x, float(xs.max()) + pad_x],
        [float(ys.min()) - pad_y, float(ys.max()) + pad_y],
    )


def build_figure(
    columns: MapColumns,
    shown: np.ndarray,
    color_by: str,
    *,
    prompts: bool = True,
    window: Sequence[Sequence[float]] | None = None,
) -> go.Figure:
    """The map: one WebGL trace per colour group; ``customdata`` = (id, 1 for a prompt else 0,
    round, number of flags).

    Larger groups are drawn first, so small ones (the few rejects among many accepted) stay on
    top. The axes span ``window`` (x and y bounds) or else every point of the map, not just the
    points shown. With more than ``MARKER_LIMIT`` points in view they are drawn as a density
    picture under an even sample of at most ``SAMPLE_LIMIT`` markers.
    """
    x_range, y_range, in_view = view(columns, shown, window)
    rows = np.flatnonzero(in_view)
    dense = len(rows) > MARKER_LIMIT
    codes, names = color_groups(columns, color_by)
    counts = np.bincount(codes[rows], minlength=len(names))
    order = sorted(
        (k for k in range(len(names)) if counts[k]), key=lambda k: (-counts[k], names[k])
    )
    colors = {
        k: STATUS_COLORS.get(names[k]) if color_by == "status" else PALETTE[n % len(PALETTE)]
        for n, k in enumerate(order)
    }
    fig = go.Figure()
    if dense:
        fig.add_layout_image(_density_layer(columns, rows, codes, colors, x_range, y_range))
        rows = rows[np.linspace(0, len(rows) - 1, SAMPLE_LIMIT).astype(np.int64)]
    flags = np.bitwise_count(columns.flags)
    for k in order:
        members = rows[codes[rows] == k]
        marker = {"size": 3 if dense else 7, "color": colors[k]}
        hover = (
            f"image %{{customdata[0]}} · round %{{customdata[2]}} · %{{customdata[3]}} flag(s)"
            f"<extra>{names[k]}</extra>"
        )
        data = np.column_stack(
            [columns.ids[members], np.zeros(len(members)), columns.round[members], flags[members]]
        )
        label = f"{names[k]} ({counts[k]})" if dense else names[k]
        fig.add_trace(
            _trace(columns.x[members], columns.y[members], data, name=label, marker=marker,
                   hover=hover, webgl=not dense)
        )  # fmt: skip
    if prompts and len(columns.prompt_ids):
        star = {"symbol": "star", "size": 14, "color": "#f9ab00", "line": {"width": 1}}
        hover = "prompt %{customdata[0]}<extra></extra>"
        data = np.column_stack([columns.prompt_ids, np.ones((len(columns.prompt_ids), 3))])
        fig.add_trace(
            _trace(columns.prompt_x, columns.prompt_y, data, name="prompts", marker=star,
                   hover=hover)
        )  # fmt: skip
    fig.update_layout(
        height=600,
        dragmode="lasso",
        margin={"l": 10, "r": 10, "t": 10, "b": 40},  # room for the legend below
        # below the plot: at the top right it sat under the chart's toolbar
        legend={"title": color_by, "orientation": "h", "yanchor": "top", "y": -0.01, "x": 0},
        showlegend=True,  # also with one group: the key says what the colour means
        # a group hidden from the legend would still be selected by a box on the server
        legend_itemclick=False,
        legend_itemdoubleclick=False,
        # keeps zoom and legend state across reruns, until the page sets another window
        uirevision=f"map {json.dumps(window)}",
    )
    # no grid: map coordinates have no units, and grid lines crossed the density picture
    axes = {"showticklabels": False, "title": None, "showgrid": False, "zeroline": False}
    fig.update_xaxes(**axes, range=x_range)
    fig.update_yaxes(**axes, scaleanchor="x", range=y_range)
    return fig


def view(
    columns: MapColumns, shown: np.ndarray, window: Sequence[Sequence[float]] | None
) -> tuple[list[float], list[float], np.ndarray]:
    """The axes' ranges (``window``, or every point with a margin) and the shown points inside
    them: what is drawn, and so what a box or lasso may select."""
    x_range, y_range = [list(w) for w in window] if window else frame_ranges(columns)
    x, y = columns.x, columns.y
    inside_ranges = (x >= x_range[0]) & (x <= x_range[1]) & (y >= y_range[0]) & (y <= y_range[1])
    return x_range, y_range, shown & inside_ranges


def _density_layer(columns, rows, codes, colors, x_range, y_range) -> dict:
    """The points of ``rows`` as a picture laid under the markers, exactly over the window."""
    keys = list(colors)
    recode = np.zeros(max(keys) + 1, dtype=np.int64)
    recode[keys] = np.arange(len(keys))
    aspect = (y_range[1] - y_range[0]) / (x_range[1] - x_range[0])
    height = int(np.clip(DENSITY_WIDTH * aspect, 200, 1200))
    picture = density_image(
        columns.x[rows], columns.y[rows], recode[codes[rows]], [colors[k] for k in keys],
        tuple(x_range), tuple(y_range), DENSITY_WIDTH, height,
    )  # fmt: skip
    return {
        "source": _webp_uri(picture),
        "xref": "x",
        "yref": "y",
        "x": x_range[0],
        "y": y_range[1],
        "sizex": x_range[1] - x_range[0],
        "sizey": y_range[1] - y_range[0],
        "sizing": "stretch",
        "layer": "below",
    }


def _webp_uri(picture) -> str:
    """The picture as a WebP data URI: about a third of the PNG's bytes for a density picture
    (138 vs 399 kB at a million points), which every rerun after a change sends to the browser."""
    import base64
    import io

    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", quality=85)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def add_map_thumbnails(
    fig: go.Figure, xy: Sequence[tuple[float, float]], pictures: Sequence[str]
) -> go.Figure:
    """A copy of ``fig`` with a small picture (data URI) centred on each point of ``xy``."""
    import base64

    fig = go.Figure(fig)
    x_range, y_range = fig.layout.xaxis.range, fig.layout.yaxis.range
    side = 0.035 * max(x_range[1] - x_range[0], y_range[1] - y_range[0])
    images = list(fig.layout.images)  # the density picture, when there is one, stays below
    for (x, y), picture in zip(xy, pictures, strict=True):
        data = base64.b64encode(Path(picture).read_bytes()).decode("ascii")
        images.append(
            {
                "source": f"data:image/jpeg;base64,{data}",
                "xref": "x",
                "yref": "y",
                "x": x,
                "y": y,
                "sizex": side,
                "sizey": side,
                "xanchor": "center",
                "yanchor": "middle",
                "layer": "above",
            }
        )
    fig.update_layout(images=images)
    return fig


def selected_image_ids(event) -> list[int]:
    """Image ids in a chart selection event (prompts are not curated, so they are left out)."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    ids = set()
    for point in points:
        data = point.get("customdata")
        if isinstance(data, dict):  # a typed-array row arrives as {"0": id, "1": is_prompt, ...}
            data = [data.get("0"), data.get("1")]
        if data is not None and len(data) >= 2 and int(data[1]) == 0:
            ids.add(int(data[0]))
    return sorted(ids)


def selection_shapes(event) -> list[list[tuple[float, float]]]:
    """The box and lasso outlines of a chart selection event, as polygons in map coordinates."""
    selection = (event or {}).get("selection", {})
    shapes = [box_polygon(box["x"], box["y"]) for box in selection.get("box", []) if box["x"]]
    shapes += [
        list(zip(lasso["x"], lasso["y"], strict=True)) for lasso in selection.get("lasso", [])
    ]
    return shapes


def event_selection(event, columns: MapColumns, drawn: np.ndarray) -> list[int]:
    """The images a chart event selects: every drawn image (``drawn``: shown and in the window)
    inside its box/lasso outlines, resolved here over all points, also those the browser only
    saw as density; else the points clicked."""
    shapes = selection_shapes(event)
    if not shapes:
        return selected_image_ids(event)
    chosen = np.zeros(len(columns), dtype=bool)
    for polygon in shapes:
        chosen |= inside(columns, polygon)
    return columns.ids[chosen & drawn].tolist()


def new_selection(
    event, last_seen: str, columns: MapColumns, drawn: np.ndarray
) -> tuple[str, list[int] | None]:
    """(what the event is, the ids it selects), the ids None when it is the event ``last_seen``:
    the same outline over a catalog that changed since (an undo, another tab) must not grow or
    shrink a selection the user already has."""
    seen = json.dumps([selection_shapes(event), selected_image_ids(event)])
    return seen, (None if seen == last_seen else event_selection(event, columns, drawn))


def sync_selection(event, columns: MapColumns, drawn: np.ndarray) -> None:
    """Take the chart's selection only when the event itself changed (so a set selection
    survives reruns)."""
    seen, ids = new_selection(event, st.session_state["map_last_event"], columns, drawn)
    if ids is not None:
        st.session_state["map_last_event"] = seen
        st.session_state["map_selection"] = ids


def _act(action: str) -> None:
    """Button callback: runs before the rerun draws the map, so the map shows the new state."""
    try:
        from curator.curation import accept, reject, undo_last

        ws = open_current()
        ids = list(st.session_state["map_selection"])
        reason = st.session_state.get("map_reason", "")
        if action == "reject":
            n = reject(ws, ids, reason=reason)
            st.session_state["map_message"] = f"Rejected {n} image(s)."
        elif action == "accept":
            n = accept(ws, ids, reason=reason)
            st.session_state["map_message"] = f"Accepted {n} image(s)."
        else:
            undone = undo_last(ws)
            st.session_state["map_message"] = f"Undone: {undone}" if undone else "Nothing to undo."
        if action in ("reject", "accept"):
            clear_selection()
    except Exception as exc:  # a callback's error would otherwise be a trace in the page
        st.session_state["map_error"] = exc


def clear_selection() -> None:
    """Forget the selection, outline included: a new chart key drops the old lasso shape, which
    would otherwise catch the next drag. Zoom survives (``uirevision``)."""
    st.session_state["map_chart_rev"] = st.session_state.get("map_chart_rev", 0) + 1
    st.session_state["map_selection"] = []
    st.session_state["map_last_event"] = json.dumps([[], []])


@st.cache_resource(max_entries=2, show_spinner=False)
def _cached_options(root: str, token: tuple) -> dict[str, list]:
    columns = current_columns(root, token)
    return {
        "round": np.unique(columns.round).tolist(),
        "source": [SOURCES[k] for k in np.unique(columns.source)],
        "status": [STATUSES[k] for k in np.unique(columns.status)],
        "flag": list(columns.flag_names),
    }


def _filters(options: dict[str, list]) -> dict:
    cols = st.columns(5)
    color_by = cols[0].selectbox("Colour by", COLOR_BY, key="map_color_by")
    filters = {
        name: col.multiselect(name.capitalize(), options[name], key=f"map_{name}")
        for col, name in zip(cols[1:4], ("round", "source", "status"), strict=True)
    }
    flag = cols[4].selectbox("Quality flag", ["(any)", *options["flag"]], key="map_flag")
    filters["flag"] = None if flag == "(any)" else flag
    return {"color_by": color_by, **filters}


def _single_preview(ws, image_id: int) -> None:
    """A clicked point: a larger preview and its catalog record."""
    from curator.catalog import get_image
    from curator.store import thumbnail

    record = get_image(ws, image_id)
    left, right = st.columns([1, 2])
    left.image(str(thumbnail(ws, image_id, size=256)), caption=f"#{image_id}")
    flags = ", ".join(f"{k} ({v:.3g})" for k, v in record.flags.items()) or "none"
    right.markdown(
        f"**{record.original_name}** · {record.width}×{record.height} {record.mode}\n\n"
        f"source **{record.source}** · round {record.round} · status **{record.status}**"
        f"{f' ({record.status_reason})' if record.status_reason else ''}\n\n"
        f"prompt {record.prompt_id if record.prompt_id is not None else '–'} · flags: {flags}"
    )


def selection_panel(ws) -> None:
    """Thumbnails of the selection and the Reject / Accept / Undo buttons."""
    ids = st.session_state["map_selection"]
    st.subheader(f"Selection: {len(ids)} image(s)")
    st.text_input("Reason (optional)", key="map_reason")
    cols = st.columns([1, 1, 1, 5])
    cols[0].button(
        "Reject",
        key="map_reject",
        on_click=_act,
        args=("reject",),
        disabled=not ids,
        type="primary",
    )
    cols[1].button("Accept", key="map_accept", on_click=_act, args=("accept",), disabled=not ids)
    cols[2].button("Undo", key="map_undo", on_click=_act, args=("undo",))
    if len(ids) == 1:
        _single_preview(ws, ids[0])
    elif ids:
        shown = ids[:GRID_LIMIT]
        st.image(
            thumbnail_paths(ws, shown),
            caption=[f"#{i}" for i in shown],
            width=112,
        )
        if len(ids) > GRID_LIMIT:
            st.caption(f"Showing {GRID_LIMIT} of {len(ids)}; the buttons act on all of them.")


def _with_thumbnails(ws, fig: go.Figure, columns: MapColumns, shown: np.ndarray) -> go.Figure:
    """The figure with pictures on the shown points (or the selected ones among them) when
    few enough are left."""
    selected = st.session_state["map_selection"]
    rows = np.flatnonzero(shown & np.isin(columns.ids, selected) if selected else shown)
    if len(rows) > MAP_THUMB_LIMIT:
        st.caption(
            f"Pictures are drawn for up to {MAP_THUMB_LIMIT} images: filter or select fewer "
            f"({len(rows)} now)."
        )
        return fig
    pictures = thumbnail_paths(ws, columns.ids[rows].tolist(), size=MAP_THUMB_SIZE)
    xy = list(zip(columns.x[rows].tolist(), columns.y[rows].tolist(), strict=True))
    return add_map_thumbnails(fig, xy, pictures)


def _set_window(to_selection: bool) -> None:
    """Button callback: zoom to the selected points (with a margin), or back to the whole map."""
    st.session_state["map_window"] = None
    ids = st.session_state["map_selection"]
    if to_selection and ids:
        ws = open_current()
        columns = current_columns(str(ws.root), catalog_version(ws.db_path))
        rows = np.flatnonzero(np.isin(columns.ids, ids))
        if not rows.size:  # the selection is no longer on the map (a refit meanwhile)
            return
        xs, ys = columns.x[rows], columns.y[rows]
        pad = max(float(np.ptp(xs)), float(np.ptp(ys)), 1e-3) * 0.1
        st.session_state["map_window"] = [
            [float(xs.min()) - pad, float(xs.max()) + pad],
            [float(ys.min()) - pad, float(ys.max()) + pad],
        ]


def render() -> None:
    """Draw the Map page."""
    st.title("Map")
    if err := st.session_state.pop("map_error", None):
        show_error(err)
    if msg := st.session_state.pop("map_message", None):
        st.toast(msg)  # a banner above the chart would push it down under the next drag
    ws = open_current()
    if ws is None:
        return
    root, token = str(ws.root), catalog_version(ws.db_path)
    columns = current_columns(root, token)
    if not len(columns):
        st.info(
            "No map yet: ingest images, then *Embed new images and update the map* "
            "on the Workspace page."
        )
        return
    choice = _filters(_cached_options(root, token))
    left, middle, right, far = st.columns(4)
    prompts = left.toggle("Show prompts", True, key="map_prompts")
    pictures = middle.toggle("Pictures on the map", False, key="map_pictures")
    window = st.session_state.get("map_window")
    right.button(
        "Zoom to selection", key="map_zoom", on_click=_set_window, args=(True,),
        disabled=not st.session_state["map_selection"],
    )  # fmt: skip
    far.button(
        "Whole map", key="map_whole", on_click=_set_window, args=(False,), disabled=not window
    )
    filters = json.dumps({k: v for k, v in choice.items() if k != "color_by"}, sort_keys=True)
    fig, shown = _cached_figure(
        root, token, choice["color_by"], filters, prompts, json.dumps(window)
    )
    if pictures:
        fig = _with_thumbnails(ws, fig, columns, shown)
    key = f"{CHART_KEY}_{st.session_state.get('map_chart_rev', 0)}"
    event = st.plotly_chart(
        fig, key=key, on_select="rerun", selection_mode=("points", "box", "lasso")
    )
    sync_selection(event, columns, shown)
    note = ""
    if fig.layout.images and not pictures:
        note = " · many points: drawn as density; select and *Zoom to selection* for single points"
    st.caption(
        f"{int(shown.sum())} image(s) shown · {len(st.session_state['map_selection'])} selected"
        + note
    )
    selection_panel(ws)
