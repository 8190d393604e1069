"""Map page: images and prompts on the shared map; select → thumbnails → reject/accept/undo."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from curator.catalog import catalog_version
from curator.map_plot import STATUS_COLORS  # the map PNG and the page share the colours
from curator.shared_map import filter_points, flag_names
from curator.studio.feedback import show_error
from curator.studio.state import open_current
from curator.studio.thumbs import thumbnail_paths

COLOR_BY = ("status", "source", "round", "prompt")  # status first: a reject shows at once
GRID_LIMIT = 24  # thumbnails drawn per selection (cold ones cost ~5 ms each); actions use all
MAP_THUMB_LIMIT = 150  # pictures drawn on the map itself (each is a few kB sent to the browser)
MAP_THUMB_SIZE = 64
CHART_KEY = "map_chart"


@st.cache_resource(max_entries=2, show_spinner=False)
def _cached_points(root: str, token: tuple) -> list:
    # Keyed by the catalog token: a click reruns the page but reads nothing from disk.
    from curator.shared_map import map_points
    from curator.workspace import open_workspace

    return map_points(open_workspace(root))


@st.cache_resource(max_entries=8, show_spinner=False)
def _cached_figure(root: str, token: tuple, color_by: str, filters: str, prompts: bool):
    points = _cached_points(root, token)
    images = filter_points(points, json.loads(filters))
    shown = [p for p in points if p.kind == "prompt"] if prompts else []
    fig = build_figure(images, shown, color_by, frame=points)
    # Same data → same revision: the browser's Plotly.react then skips recomputing 10k points on
    # a rerun, where it would otherwise treat every freshly parsed array as new data.
    fig.update_layout(datarevision=json.dumps([token, color_by, filters, prompts]))
    return fig, images


def _group(point, color_by: str) -> str:
    if color_by == "prompt":
        return f"prompt {point.prompt_id}" if point.prompt_id is not None else "no prompt"
    return str(getattr(point, color_by))


def _trace(
    points: Sequence, *, is_prompt: bool, name: str, marker: dict, hover: str
) -> go.Scattergl:
    return go.Scattergl(
        x=np.array([p.x for p in points], dtype=np.float32),
        y=np.array([p.y for p in points], dtype=np.float32),
        # integers only: a typed array, cheap to send at 10k points (strings per point were not)
        customdata=np.array(
            [[p.id, int(is_prompt), p.round or 0, len(p.flags or ())] for p in points],
            dtype=np.int64,
        ),
        mode="markers",
        name=name,
        marker=marker,
        hovertemplate=hover,
    )


def _axis_ranges(points: Sequence) -> tuple[list[float], list[float]]:
    """Ranges around every point with a margin: filters then never move or rescale the map."""
    xs = np.array([p.x for p in points], dtype=np.float64)
    ys = np.array([p.y for p in points], dtype=np.float64)
    pad_x = max(float(np.ptp(xs)) * 0.04, 1e-3)
    pad_y = max(float(np.ptp(ys)) * 0.04, 1e-3)
    return (
        [float(xs.min()) - pad_x, float(xs.max()) + pad_x],
        [float(ys.min()) - pad_y, float(ys.max()) + pad_y],
    )


def build_figure(
    images: Sequence, prompts: Sequence, color_by: str, frame: Sequence | None = None
) -> go.Figure:
    """One WebGL trace per colour group; ``customdata`` = (id, 1 for a prompt else 0, round,
    number of flags).

    Larger groups are drawn first, so small ones (the few rejects among many accepted) stay on
    top. The axes span ``frame`` (every point of the map), not just the points shown.
    """
    fig = go.Figure()
    groups: dict[str, list] = {}
    for p in images:
        groups.setdefault(_group(p, color_by), []).append(p)
    for name in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        marker = {"size": 7}
        if color_by == "status":
            marker["color"] = STATUS_COLORS.get(name)
        hover = (
            f"image %{{customdata[0]}} · round %{{customdata[2]}} · %{{customdata[3]}} flag(s)"
            f"<extra>{name}</extra>"
        )
        fig.add_trace(_trace(groups[name], is_prompt=False, name=name, marker=marker, hover=hover))
    if prompts:
        star = {"symbol": "star", "size": 14, "color": "#f9ab00", "line": {"width": 1}}
        hover = "prompt %{customdata[0]}<extra></extra>"
        fig.add_trace(_trace(prompts, is_prompt=True, name="prompts", marker=star, hover=hover))
    fig.update_layout(
        height=600,
        dragmode="lasso",
        margin={"l": 10, "r": 10, "t": 10, "b": 40},  # room for the legend below
        # below the plot: at the top right it sat under the chart's toolbar
        legend={"title": color_by, "orientation": "h", "yanchor": "top", "y": -0.01, "x": 0},
        showlegend=True,  # also with one group: the key says what the colour means
        uirevision="map",  # keeps zoom and legend state across reruns
    )
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None, scaleanchor="x")
    frame = frame if frame is not None else [*images, *prompts]
    if frame:
        x_range, y_range = _axis_ranges(frame)
        fig.update_xaxes(range=x_range)
        fig.update_yaxes(range=y_range)
    return fig


def add_map_thumbnails(fig: go.Figure, points: Sequence, pictures: Sequence[str]) -> go.Figure:
    """A copy of ``fig`` with a small picture (data URI) centred on each of ``points``."""
    import base64

    fig = go.Figure(fig)
    x_range, y_range = fig.layout.xaxis.range, fig.layout.yaxis.range
    side = 0.035 * max(x_range[1] - x_range[0], y_range[1] - y_range[0])
    images = []
    for point, picture in zip(points, pictures, strict=True):
        data = base64.b64encode(Path(picture).read_bytes()).decode("ascii")
        images.append(
            {
                "source": f"data:image/jpeg;base64,{data}",
                "xref": "x",
                "yref": "y",
                "x": point.x,
                "y": point.y,
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


def sync_selection(event) -> None:
    """Take the chart's selection only when it changed (so a set selection survives reruns)."""
    ids = selected_image_ids(event)
    if ids != st.session_state["map_last_event"]:
        st.session_state["map_last_event"] = ids
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
    st.session_state["map_last_event"] = []


@st.cache_resource(max_entries=2, show_spinner=False)
def _cached_options(root: str, token: tuple) -> dict[str, list]:
    images = [p for p in _cached_points(root, token) if p.kind == "image"]
    return {
        "round": sorted({p.round for p in images}),
        "source": sorted({p.source for p in images}),
        "status": sorted({p.status for p in images}),
        "flag": sorted(set().union(*(flag_names(p) for p in images))) if images else [],
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


def _with_thumbnails(ws, fig: go.Figure, shown: Sequence) -> go.Figure:
    """The figure with pictures on the ``shown`` points (or the selected ones among them) when
    few enough are left."""
    selected = set(st.session_state["map_selection"])
    points = [p for p in shown if p.id in selected] if selected else list(shown)
    if len(points) > MAP_THUMB_LIMIT:
        st.caption(
            f"Pictures are drawn for up to {MAP_THUMB_LIMIT} images: filter or select fewer "
            f"({len(points)} now)."
        )
        return fig
    pictures = thumbnail_paths(ws, [p.id for p in points], size=MAP_THUMB_SIZE)
    return add_map_thumbnails(fig, points, pictures)


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
    if not _cached_points(root, token):
        st.info(
            "No map yet: ingest images, then *Embed new images and update the map* "
            "on the Workspace page."
        )
        return
    choice = _filters(_cached_options(root, token))
    left, right = st.columns(2)
    prompts = left.toggle("Show prompts", True, key="map_prompts")
    pictures = right.toggle("Pictures on the map", False, key="map_pictures")
    filters = json.dumps({k: v for k, v in choice.items() if k != "color_by"}, sort_keys=True)
    fig, shown = _cached_figure(root, token, choice["color_by"], filters, prompts)
    if pictures:
        fig = _with_thumbnails(ws, fig, shown)
    key = f"{CHART_KEY}_{st.session_state.get('map_chart_rev', 0)}"
    event = st.plotly_chart(
        fig, key=key, on_select="rerun", selection_mode=("points", "box", "lasso")
    )
    sync_selection(event)
    st.caption(f"{len(shown)} image(s) shown · {len(st.session_state['map_selection'])} selected")
    selection_panel(ws)
