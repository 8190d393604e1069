"""Workspace page: open or create a workspace, ingest folders or uploads, counts and flags."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from curator.config import CONFIG_NAME, DEFAULT_CLIP, FALLBACK_ENCODER
from curator.recent import recent_workspaces
from curator.studio.feedback import friendly_errors
from curator.studio.progress import JobProgress
from curator.studio.state import open_current, set_workspace, workspace_root
from curator.workspace import init_workspace, open_workspace


@st.cache_data(ttl=300, show_spinner=False)
def _default_encoder() -> str:
    """The encoder a new workspace gets (probes the hub: cached for a few minutes)."""
    from curator.encoder_choice import default_encoder

    return default_encoder()


def _encoder_choice(label: str, current: str, key: str) -> str:
    """A select box over the default CLIP, the offline encoder and ``current``."""
    options = list(dict.fromkeys([current, DEFAULT_CLIP, FALLBACK_ENCODER]))
    return st.selectbox(label, options, index=0, key=key, help=ENCODER_HELP)


def _open_or_create() -> None:
    current = workspace_root()
    path = st.text_input("Workspace folder", value=str(current or ""), key="ws_path_input").strip()
    open_col, create_col, encoder_col = st.columns([1, 1, 4])
    with encoder_col:
        encoder = _encoder_choice("Encoder for a new workspace", _default_encoder(), "ws_encoder")
    opened = None
    with friendly_errors():  # a wrong folder is a message here; the page goes on
        if open_col.button("Open", key="ws_open", disabled=not path):
            opened = open_workspace(Path(path).expanduser())
        if create_col.button("Create", key="ws_create", disabled=not path):
            folder = Path(path).expanduser()
            if (folder / CONFIG_NAME).is_file():  # already one: open it as it is
                opened = open_workspace(folder)
            else:
                opened = init_workspace(folder, encoder=encoder)
    recent = [str(p) for p in recent_workspaces() if p != current]
    if recent:
        pick_col, recent_col = st.columns([5, 1], vertical_alignment="bottom")
        picked = pick_col.selectbox("Recent workspaces", recent, key="ws_recent")
        with friendly_errors():
            if recent_col.button("Open recent", key="ws_open_recent"):
                opened = open_workspace(Path(picked))
    if opened is not None:
        set_workspace(opened.root)
        st.rerun()


ENCODER_HELP = (
    f"CLIP ({DEFAULT_CLIP}) embeds images and prompts; its weights download once (about 600 MB). "
    f"{FALLBACK_ENCODER} works offline, images only (a prompt is placed among the images it "
    "produced)."
)


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


def run_ingest(
    ws, paths: list[Path], recursive: bool, names: dict[Path, str] | None = None
) -> None:
    """Ingest ``paths``; report added, duplicates, skipped files and each file's error."""
    from curator.ingest import ingest_paths

    job = JobProgress("Ingesting", "ingest", "Ingest cancelled; the files added so far are kept.")
    report = ingest_paths(ws, paths, recursive=recursive, progress=job, names=names)
    job.close()
    st.session_state["ingest_report"] = {
        "added": len(report.added),
        "duplicates": list(report.duplicates),
        "errors": [list(e) for e in report.errors],
        "skipped": list(report.skipped),
    }
    st.rerun()  # redraw the counts above with the new images


def show_ingest_report() -> None:
    """The last ingest's outcome, errors listed per file."""
    report = st.session_state.get("ingest_report")
    if not report:
        return
    st.success(f"Added {report['added']} image(s); {len(report['duplicates'])} duplicate(s).")
    if report.get("skipped"):
        shown = ", ".join(report["skipped"][:10]) + (" …" if len(report["skipped"]) > 10 else "")
        st.info(f"{len(report['skipped'])} file(s) skipped, not images: {shown}")
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
            names = {}
            for k, upload in enumerate(uploads):
                # one folder per file: two uploads with one name must not overwrite each other
                copy = Path(tmp) / str(k) / Path(upload.name).name
                copy.parent.mkdir()
                copy.write_bytes(upload.getvalue())
                names[copy] = f"upload: {Path(upload.name).name}"
            run_ingest(ws, list(names), recursive=False, names=names)
    show_ingest_report()


def _embed_and_map_section(ws) -> None:
    st.subheader("Embeddings and map")
    encoder = _encoder_choice("Encoder", ws.config.embedding.encoder, "ws_switch_encoder")
    switching = encoder != ws.config.embedding.encoder
    label = "Embed new images and update the map"
    if switching:
        st.info(
            f"Switching to `{encoder}` embeds every image again and refits the map; the "
            "embeddings made so far are kept, so switching back is quick."
        )
        label = "Switch encoder, embed every image and refit the map"
    if st.button(label, key="ws_embed_map"):
        from curator.embeddings import switch_encoder
        from curator.shared_map import refresh_map

        with friendly_errors():
            if switching:
                ws = switch_encoder(ws, encoder)
            job = JobProgress(
                "Embedding",
                "embed",
                "Embedding cancelled; what was embedded is kept, run it again to finish.",
            )
            report = refresh_map(ws, progress=job)
            job.close()
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
