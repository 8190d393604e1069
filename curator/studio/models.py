"""Choosing and loading LIIF weights: ``official``, a trained run folder, or a safetensors file."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from curator.studio.state import run_folders, workspace_root
from sr.models.liif import LIIF
from sr.weights import load_model, resolve_weights

OFFICIAL = "official"
OTHER = "Other file or run folder…"


@st.cache_resource(max_entries=4, show_spinner="Loading LIIF weights…")
def _load(path: str, mtime_ns: int) -> LIIF:
    # mtime in the key: a run that writes a new best checkpoint is reloaded, not served stale.
    return load_model(path)


def cached_model(spec: str) -> LIIF:
    """The model for ``spec`` (see ``sr.weights.resolve_weights``), loaded once per file version."""
    path = resolve_weights(spec)
    return _load(str(path), path.stat().st_mtime_ns)


def model_choices() -> list[str]:
    """``official``, then the open workspace's run folders."""
    return [OFFICIAL, *(str(p) for p in run_folders(workspace_root()))]


def pick_model(key: str) -> str:
    """A model picker; returns the weights spec the user chose."""
    choice = st.selectbox("Model", [*model_choices(), OTHER], key=key)
    if choice == OTHER:
        return st.text_input(
            "Weights (.safetensors file or training run folder)", key=f"{key}_path"
        ).strip()
    return choice


def model_label(spec: str) -> str:
    """Short name for tables: ``official`` or the run/file name."""
    return spec if spec == OFFICIAL else Path(spec).name
