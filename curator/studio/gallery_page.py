"""Gallery page: the whole set in pages (filters, order), a viewer, bulk actions and history.

Everything here is a ``curator`` API call (``list_images``, ``accept_clean``, ``reject_flagged``,
``similar_images``, ``near_duplicate_groups``, ``history``, ``fill_missing_scores``); the page
only lays it out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from curator.catalog import SORT_NAMES, SOURCES, STATUSES, count_images, list_images, summary
from curator.scores import SCORES, scores_of
from curator.studio.feedback import friendly_errors, show_error
from curator.studio.progress import JobProgress
from curator.studio.state import open_current
from curator.studio.thumbs import thumbnail_paths

PAGE_SIZES = (24, 48, 96)
COLUMNS = 6
SIMILAR_K = 6


def _filters(flags: list[str]) -> dict:
    """The filter row; returns ``list_images`` keyword arguments (paging aside)."""
    cols = st.columns([1, 1, 2, 1, 1])
    status = cols[0].selectbox("Status", ["(any)", *STATUSES], key="gal_status")
    source = cols[1].selectbox("Source", ["(any)", *SOURCES], key="gal_source")
    chosen = cols[2].multiselect("Quality flags (any of)", flags, key="gal_flags")
    sort = cols[3].selectbox("Order", list(SORT_NAMES), key="gal_sort")
    no_flags = cols[4].checkbox("No flags", key="gal_no_flags", disabled=bool(chosen))
    low, high = _score_ranges()
    return {
        "status": None if status == "(any)" else status,
        "source": None if source == "(any)" else source,
        "flag": chosen or None,
        "no_flags": no_flags and not chosen,
        "min_score": low,
        "max_score": high,
        "sort": sort,
    }


def _score_ranges() -> tuple[dict[str, float], dict[str, float]]:
    """Minimum and maximum per quality score (empty fields: no bound)."""
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    with st.expander("Score ranges"):
        for name, meaning in SCORES.items():
            left, right = st.columns(2)
            # %g: fine_detail lives around 0.02-0.3, two decimals would round it away
            lo = left.number_input(
                f"{name} ≥", value=None, format="%g", key=f"gal_min_{name}", help=meaning
            )
            hi = right.number_input(f"{name} ≤", value=None, format="%g", key=f"gal_max_{name}")
            if lo is not None:
                low[name] = float(lo)
            if hi is not None:
                high[name] = float(hi)
    return low, high


def _measure_missing(ws) -> None:
    """Old catalogs: offer to measure the images that have no scores yet."""
    from curator.scores import count_without_scores, fill_missing_scores

    missing = count_without_scores(ws)
    if not missing:
        return
    st.info(f"{missing} image(s) have no quality scores yet, so score ranges leave them out.")
    if ws.readonly or not st.button(f"Measure {missing} image(s)", key="gal_measure"):
        return
    skipped: list[str] = []
    with friendly_errors():
        job = JobProgress("Measuring", "measure", "Measuring cancelled.")
        fill_missing_scores(ws, progress=job, warn=skipped.append)
        job.close()
        if skipped:  # shown after the rerun, which would wipe them now
            st.session_state["gal_message"] = f"{len(skipped)} file(s) could not be measured"
            st.session_state["gal_skipped"] = skipped
        st.rerun()


def _caption(record) -> str:
    flags = ", ".join(sorted(record.flags)) if record.flags else "no flags"
    return f"#{record.id} · {record.status} · {flags}"


def _grid(ws, records: list) -> None:
    """Thumbnails with their status and flags; a tick selects, *View* opens the viewer."""
    pictures = thumbnail_paths(ws, [r.id for r in records])
    for start in range(0, len(records), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, record, picture in zip(
            cols, records[start : start + COLUMNS], pictures[start : start + COLUMNS], strict=False
        ):
            col.image(picture, caption=_caption(record), width="stretch")
            tick, view = col.columns(2)
            tick.checkbox("pick", key=f"gal_pick_{record.id}", label_visibility="collapsed")
            view.button(
                "View", key=f"gal_view_{record.id}", on_click=_open_viewer, args=(record.id,)
            )


def _open_viewer(image_id: int) -> None:
    """Callback: the viewer (drawn above the grid) opens in the same rerun."""
    st.session_state["gal_viewing"] = image_id


def _picked(records: list) -> list[int]:
    return [r.id for r in records if st.session_state.get(f"gal_pick_{r.id}")]


def _act(action: str, ids: list[int] | None = None) -> None:
    """Button callback (runs before the page is drawn again, so it shows the new state)."""
    from curator import curation

    try:
        ws = open_current()
        if action == "accept_clean":
            message = f"Accepted {curation.accept_clean(ws)} clean pending image(s)."
        elif action == "reject_flagged":
            message = f"Rejected {curation.reject_flagged(ws)} flagged pending image(s)."
        elif action == "accept":
            message = f"Accepted {curation.accept(ws, ids or [])} image(s)."
        elif action == "reject":
            reason = st.session_state.get("gal_reason", "")
            message = f"Rejected {curation.reject(ws, ids or [], reason=reason)} image(s)."
        else:
            message = curation.undo_last(ws) or "Nothing to undo."
        for image_id in ids or []:
            st.session_state.pop(f"gal_pick_{image_id}", None)
        st.session_state["gal_message"] = message
    except Exception as exc:  # a callback's error would otherwise be a trace in the page
        st.session_state["gal_error"] = exc


def _bulk_actions(picked: list[int]) -> None:
    cols = st.columns([2, 2, 1, 1, 1, 3])
    cols[0].button(
        "Accept clean pending",
        key="gal_accept_clean",
        on_click=_act,
        args=("accept_clean",),
        help="every pending image without quality flags",
    )
    cols[1].button(
        "Reject flagged pending",
        key="gal_reject_flagged",
        on_click=_act,
        args=("reject_flagged",),
        help="every pending image with a quality flag; the reason names its flags",
    )
    cols[2].button(
        "Accept", key="gal_accept", on_click=_act, args=("accept", picked), disabled=not picked
    )
    cols[3].button(
        "Reject",
        key="gal_reject",
        on_click=_act,
        args=("reject", picked),
        disabled=not picked,
        type="primary",
    )
    cols[4].button("Undo", key="gal_undo", on_click=_act, args=("undo",))
    cols[5].text_input(
        "Reason (optional)",
        key="gal_reason",
        label_visibility="collapsed",
        placeholder="reason for Reject (optional)",
    )


def _viewer(ws, image_id: int, page_ids: list[int]) -> None:
    """The image at full size with its record; previous/next within the page; similar images."""
    from curator.catalog import get_image
    from curator.store import image_path

    record = get_image(ws, image_id)
    st.subheader(f"#{record.id} {Path(record.original_name).name}")
    nav = st.columns([1, 1, 1, 1, 1, 3])
    where = page_ids.index(image_id) if image_id in page_ids else -1
    # Keys: ← → to move, A to accept, X to reject (Streamlit keeps R for "rerun"), Esc to close.
    last = where < 0 or where >= len(page_ids) - 1
    if nav[0].button("◀ Previous", key="gal_prev", disabled=where <= 0, shortcut="Left"):
        st.session_state["gal_viewing"] = page_ids[where - 1]
        st.rerun()
    if nav[1].button("Next ▶", key="gal_next", disabled=last, shortcut="Right"):
        st.session_state["gal_viewing"] = page_ids[where + 1]
        st.rerun()
    nav[2].button(
        "Accept", key="gal_view_accept", on_click=_act, args=("accept", [image_id]), shortcut="A"
    )
    nav[3].button(
        "Reject", key="gal_view_reject", on_click=_act, args=("reject", [image_id]), shortcut="X"
    )
    if nav[4].button("Close", key="gal_close", shortcut="Esc"):
        st.session_state.pop("gal_viewing", None)
        st.rerun()
    left, right = st.columns([3, 1])
    left.image(str(image_path(ws, record)), width="stretch")
    flags = "\n".join(f"- {k}: {v:.3g}" for k, v in record.flags.items()) or "none"
    scores = scores_of(ws, [image_id])[image_id]
    measured = "\n".join(f"- {k}: {v:.3g}" for k, v in scores.items()) or "not measured"
    right.markdown(
        f"{record.width}×{record.height} {record.mode} {record.format}\n\n"
        f"status **{record.status}**{f' ({record.status_reason})' if record.status_reason else ''}"
        f"\n\nsource **{record.source}** · round {record.round}\n\nflags:\n{flags}"
        f"\n\nscores:\n{measured}"
    )
    if right.button("Find similar", key="gal_similar"):
        st.session_state["gal_similar_of"] = image_id
    if st.session_state.get("gal_similar_of") == image_id:
        _similar(ws, image_id)


def _similar(ws, image_id: int) -> None:
    from curator.similar import similar_images

    with friendly_errors():
        found = similar_images(ws, image_id, k=SIMILAR_K)
        st.caption("Most similar (cosine of the embeddings):")
        st.image(
            thumbnail_paths(ws, [n.id for n in found]),
            caption=[f"#{n.id} · {n.cosine:.3f}" for n in found],
            width=128,
        )


def _duplicates(ws) -> None:
    from curator.similar import near_duplicate_groups

    if not st.toggle("Near-duplicate groups", key="gal_dupes"):
        return
    with friendly_errors():
        groups = near_duplicate_groups(ws)
        if not groups:
            st.caption("No near-duplicates among the embedded images.")
        for group in groups[:20]:
            st.image(
                thumbnail_paths(ws, group),
                caption=[f"#{i}{' (keep)' if k == 0 else ''}" for k, i in enumerate(group)],
                width=112,
            )
        if len(groups) > 20:
            st.caption(f"20 of {len(groups)} groups; `curator duplicates WS` lists them all.")


def _history(ws) -> None:
    from curator.events import describe_event, history

    with st.expander("History (newest first)"):
        events = history(ws, limit=50)
        rows = [(e.id, e.time[:19], e.action, describe_event(e)) for e in events]
        st.dataframe(
            pd.DataFrame(rows, columns=["event", "time", "action", "what"]),
            hide_index=True,
            key="gal_history",
        )


def render() -> None:
    """Draw the Gallery page."""
    st.title("Gallery")
    if err := st.session_state.pop("gal_error", None):
        show_error(err)
    if msg := st.session_state.pop("gal_message", None):
        st.toast(msg)
    for line in st.session_state.pop("gal_skipped", []):
        st.warning(line)
    ws = open_current()
    if ws is None:
        return
    flags = sorted(summary(ws).get("by_flag", {}))
    _measure_missing(ws)
    query = _filters(flags)
    paging = {k: v for k, v in query.items() if k != "sort"}
    total = count_images(ws, **paging)
    size = st.session_state.get("gal_page_size", PAGE_SIZES[0])
    pages = max(1, -(-total // size))
    if st.session_state.get("gal_page", 1) > pages:  # a filter left fewer pages
        st.session_state["gal_page"] = pages
    page = st.session_state.get("gal_page", 1)
    records = list_images(ws, **query, limit=size, offset=(page - 1) * size)
    picked = _picked(records)
    _bulk_actions(picked)
    if viewing := st.session_state.get("gal_viewing"):
        with friendly_errors():
            _viewer(ws, int(viewing), [r.id for r in records])
    _grid(ws, records)
    cols = st.columns([1, 1, 4])
    cols[0].number_input("Page", 1, pages, key="gal_page")
    cols[1].selectbox("Per page", PAGE_SIZES, key="gal_page_size")
    cols[2].caption(f"{total} image(s) match · {pages} page(s) · {len(picked)} picked")
    _duplicates(ws)
    _history(ws)
