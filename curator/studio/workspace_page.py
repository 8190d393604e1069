"""Workspace page: open or create a workspace, ingest folders or uploads, counts and flags."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from curator.studio.feedback import friendly_errors
from curator.studio.progress import progress_callback
from curator.studio.state import open_current, set_workspace, workspace_root
from curator.workspace import init_workspace, open_workspace


def _open_or_create() -> None:
    current = workspace_root()
    path = st.text_input("Workspace folder", value=str(current or ""), key="ws_path_input").strip()
    open_col, create_col, _ = st.columns([1, 1, 4])
    opened = None
    with friendly_errors():  # a wrong folder is a message here; the page goes on
        if open_col.button("Open", key="ws_open", disabled=not path):
            opened = open_workspace(Path(path).expanduser())
        if create_col.button("Create", key="ws_create", disabled=not path):
            opened = init_workspace(Path(path).expanduser())
    if opened is not None:
        set_workspace(opened.root)
        st.rerun()


def _counts_table(counts: dict, name: str) -> pd.DataFrame:
    return pd.DataFrame({name: [str(k) for k in counts], "images": list(counts.values())})


def show_summary(ws) -> None:
    """Counts by status, source, round and quality flag."""
    from curator.catalog import summary

    counts = summary(ws)
    by_status = counts.get("by_status", {})
    cols = st.columns(4)
    cols[0].metric("Images", counts.get("total", sum(by_status.values())))
    for col, status in zip(cols[1:], ("pending", "accepted", "rejected"), strict=True):
        col.metric(status.capitalize(), by_status.get(status, 0))
    left, mid, right = st.columns(3)
    left.dataframe(_counts_table(counts.get("by_source", {}), "source"), hide_index=True)
    mid.dataframe(_counts_table(counts.get("by_round", {}), "round"), hide_index=True)
    right.dataframe(_counts_table(counts.get("by_flag", {}), "quality flag"), hide_index=True)


def run_ingest(ws, paths: list[Path], recursive: bool) -> None:
    """Ingest ``paths``; report added, duplicates and each file's error."""
    from curator.ingest import ingest_paths

    update, close = progress_callback("Ingesting")
    report = ingest_paths(ws, paths, recursive=recursive, progress=update)
    close()
    st.session_state["ingest_report"] = {
        "added": len(report.added),
        "duplicates": list(report.duplicates),
        "errors": [list(e) for e in report.errors],
    }
    st.rerun()  # redraw the counts above with the new images


def show_ingest_report() -> None:
    """The last ingest's outcome, errors listed per file."""
    report = st.session_state.get("ingest_report")
    if not report:
        return
    st.success(f"Added {report['added']} image(s); {len(report['duplicates'])} duplicate(s).")
    if report["errors"]:
        st.warning(f"{len(report['errors'])} file(s) not ingested:")
        frame = pd.DataFrame(report["errors"], columns=["file", "reason"])
        st.dataframe(frame, hide_index=True, key="ingest_errors")


def _ingest_section(ws) -> None:
    st.subheader("Ingest")
    folder = st.text_input("Folder (or file) to ingest", key="ingest_folder").strip()
    recursive = st.checkbox("Include sub-folders", key="ingest_recursive")
    if st.button("Ingest folder", key="ingest_run", disabled=not folder):
        run_ingest(ws, [Path(folder).expanduser()], recursive)
    uploads = st.file_uploader(
        "…or upload images", accept_multiple_files=True, key="ingest_uploads"
    )
    if st.button("Ingest uploads", key="ingest_uploads_run", disabled=not uploads):
        with tempfile.TemporaryDirectory() as tmp:
            for upload in uploads:
                (Path(tmp) / Path(upload.name).name).write_bytes(upload.getvalue())
            run_ingest(ws, [Path(tmp)], recursive=False)
    show_ingest_report()


def _embed_and_map_section(ws) -> None:
    st.subheader("Embeddings and map")
    st.caption(f"Encoder: `{ws.config.embedding.encoder}`")
    if st.button("Embed new images and update the map", key="ws_embed_map"):
        from curator.shared_map import refresh_map

        update, close = progress_callback("Embedding")
        report = refresh_map(ws, progress=update)
        close()
        st.success(f"Embedded {report.images_embedded} new image(s); the map is up to date.")


def render() -> None:
    """Draw the Workspace page."""
    st.title("Workspace")
    _open_or_create()
    ws = open_current()
    if ws is None:
        return
    st.caption(f"Open: `{ws.root}`")
    show_summary(ws)
    _ingest_section(ws)
    _embed_and_map_section(ws)
