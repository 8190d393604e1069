"""Choosing and loading LIIF weights: ``official``, a trained run folder, or a safetensors file."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from curator.studio.state import run_folders, workspace_root
from sr.models.liif import LIIF
from sr.precision import DEFAULT_PRECISION, cpu_has_bf16
from sr.weights import load_model, resolve_weights

OFFICIAL = "official"
OTHER = "Other file or run folder…"


@st.cache_resource(max_entries=4, show_spinner="Loading LIIF weights…")
def _load(path: str, mtime_ns: int, precision: str) -> LIIF:
    # mtime in the key: a run that writes a new best checkpoint is reloaded, not served stale.
    return load_model(path, precision=precision)


def cached_model(spec: str, precision: str = DEFAULT_PRECISION) -> LIIF:
    """The model for ``spec`` (see ``sr.weights.resolve_weights``) in ``precision``, loaded once
    per file version."""
    path = resolve_weights(spec)
    return _load(str(path), path.stat().st_mtime_ns, precision)


def pick_precision(key: str) -> str:
    """fp32, or bf16 where this CPU runs it fast (the choice is hidden where it does not)."""
    if not cpu_has_bf16():
        return DEFAULT_PRECISION
    labels = {"fp32": "fp32 (exact)", "bf16": "bf16 (about 1.7x faster, within 0.01 dB)"}
    return st.radio("Precision", list(labels), format_func=labels.get, horizontal=True, key=key)


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
