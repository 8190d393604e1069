"""Session state defaults and the currently open workspace."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import streamlit as st

from curator.workspace_layout import WorkspaceLayout
from sr.run_layout import trained_checkpoint

WORKSPACE_ENV = "CURATOR_WORKSPACE"
WORKSPACE_PARAM = "ws"  # ?ws=PATH: the open workspace is part of the URL, so a reload keeps it


def _defaults() -> dict[str, Any]:
    return {
        "workspace_path": st.query_params.get(WORKSPACE_PARAM) or os.environ.get(WORKSPACE_ENV, ""),
        "map_selection": [],  # image ids selected on the map
        "map_last_event": "",  # last chart selection event seen, so a rerun does not reapply it
        "map_window": None,  # [[x0, x1], [y0, y1]] after *Zoom to selection*, else the whole map
        "upscale_result": None,
        "eval_results": None,
    }


def init_state() -> None:
    """Fill missing session keys once per session (never overwrites what the user set)."""
    for key, value in _defaults().items():
        if key not in st.session_state:
            st.session_state[key] = copy.deepcopy(value)


def workspace_root() -> Path | None:
    """Path of the workspace chosen in this session, if any."""
    text = str(st.session_state.get("workspace_path") or "").strip()
    return Path(text).expanduser() if text else None


def set_workspace(root: Path) -> None:
    """Make ``root`` this session's workspace (a plain key: it outlives page switches)."""
    from curator.recent import remember_workspace

    root = Path(root).expanduser().resolve()  # the URL and the recent list outlive the cwd
    st.session_state["workspace_path"] = str(root)
    st.session_state["map_selection"] = []
    st.session_state["map_last_event"] = ""
    st.session_state["map_window"] = None
    remember_workspace(root)
    sync_url()


def sync_url() -> None:
    """Write the open workspace into the URL (``?ws=``); page navigation clears it each time."""
    root = str(st.session_state.get("workspace_path") or "")
    if root and st.query_params.get(WORKSPACE_PARAM) != root:
        st.query_params[WORKSPACE_PARAM] = root


def open_current():
    """The open curator ``Workspace``, or None with a hint when none is chosen yet."""
    root = workspace_root()
    if root is None:
        st.info("Open or create a workspace on the **Workspace** page first.")
        return None
    from curator.workspace import open_workspace

    return open_workspace(root)


def run_folders(ws_root: Path | None) -> list[Path]:
    """Training runs of a workspace that ``--weights RUN`` can load (a best or last checkpoint)."""
    if ws_root is None:
        return []
    runs = WorkspaceLayout(ws_root).runs_dir
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if trained_checkpoint(p) is not None)


def sidebar_status() -> None:
    """The open workspace, under the navigation."""
    root = workspace_root()
    st.sidebar.caption(f"Workspace: `{root}`" if root else "No workspace open")
