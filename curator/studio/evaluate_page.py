"""Evaluate page: PSNR of chosen checkpoints on chosen benchmark sets and scales."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from curator.studio.feedback import show_error
from curator.studio.models import OFFICIAL, cached_model, model_choices, model_label
from curator.studio.progress import JobProgress
from sr.benchmark_sets import benchmarks_root, find_sets, hr_files
from sr.evaluate import EvalError, EvalResult, evaluate_matrix
from sr.lineage import model_lineage


def parse_scales(text: str) -> list[float]:
    """``"2, 3 4.5"`` → [2.0, 3.0, 4.5]; raises ValueError naming the bad entry."""
    scales = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"invalid scale {part!r} (use numbers ≥ 1, e.g. 2, 3, 4)") from None
        if value < 1:
            raise ValueError(f"scale {value:g} is below 1")
        scales.append(value)
    if not scales:
        raise ValueError("give at least one scale")
    return scales


def _checkpoints() -> list[str]:
    chosen = st.multiselect("Checkpoints", model_choices(), default=[OFFICIAL], key="eval_models")
    extra = st.text_area(
        "More checkpoints (one .safetensors file or run folder per line)", key="eval_extra"
    )
    return [*chosen, *(line.strip() for line in extra.splitlines() if line.strip())]


def run_evaluation(specs: list[str], sets: list[Path], scales: list[float]) -> list[dict]:
    """Rows (checkpoint, set, scale, psnr, images) of ``sr.evaluate.evaluate_matrix``.

    A checkpoint that fails is reported and skipped; a missing set stops before any work.
    """
    try:  # progress counts images, so a long set shows its ETA as it goes
        total = len(specs) * len(scales) * sum(len(hr_files(folder)) for folder in sets)
    except FileNotFoundError as exc:
        show_error(exc)
        return []
    job = JobProgress("Evaluating", "evaluate", "Evaluation cancelled.")
    rows: list[dict] = []
    images = [0]

    def image_done(name: str, psnr: float) -> None:
        images[0] += 1
        job(images[0], total)

    def add(result: EvalResult) -> None:
        rows.append(
            {
                "checkpoint": model_label(result.weights),
                "weights": result.weights,
                "set": result.set,
                "scale": result.scale,
                "psnr": result.psnr,
                "images": result.images,
            }
        )

    try:
        evaluate_matrix(
            specs,
            sets,
            scales,
            load=cached_model,
            on_result=add,
            on_image=image_done,
            on_error=lambda spec, exc: show_error(exc),  # the page goes on with the others
        )
    except (FileNotFoundError, EvalError) as exc:
        show_error(exc)
    job.close()
    return rows


def show_results(rows: list[dict]) -> None:
    """Table (sets × scales per checkpoint) and PSNR-vs-scale plot."""
    frame = pd.DataFrame(rows)
    table = frame.pivot_table(index=["checkpoint", "set"], columns="scale", values="psnr")
    table.columns = [f"×{c:g}" for c in table.columns]
    st.dataframe(table.round(4), key="eval_table")
    fig = px.line(
        frame,
        x="scale",
        y="psnr",
        color="checkpoint",
        line_dash="set",
        markers=True,
        labels={"psnr": "PSNR (dB, Y)", "scale": "scale"},
    )
    st.plotly_chart(fig, key="eval_plot")


def show_lineage(specs: list[str]) -> None:
    """For each checkpoint of a run: the curated set, and the curation, that produced it."""
    for spec in specs:
        lineage = model_lineage(spec)
        if lineage is None:
            continue
        data = lineage.get("data_lineage")
        with st.expander(f"Lineage of {model_label(spec)}"):
            st.markdown(f"Run `{lineage['run']}` trained on `{lineage['data']}`.")
            if data:
                st.markdown(
                    f"Exported from workspace `{data.get('workspace')}` at event "
                    f"#{data.get('last_event_id')}: {data.get('accepted')} accepted images "
                    f"(digest `{str(data.get('accepted_ids_sha256'))[:12]}`), rejections by "
                    f"reason: {data.get('rejection_reasons') or 'none'}."
                )
            else:
                st.caption("The data was a plain folder (no curation record).")


def render() -> None:
    """Draw the Evaluate page."""
    st.title("Evaluate")
    st.caption(
        "PSNR on the Y channel, border of `scale` pixels shaved (the LIIF paper's protocol)."
    )
    specs = _checkpoints()
    root = Path(st.text_input("Benchmark folder", value=str(benchmarks_root()), key="eval_root"))
    available = [folder.name for folder in find_sets(root)]
    if not available:
        st.warning(f"{root}: no benchmark sets (folders with HR/) found; set SR_BENCHMARKS.")
    chosen = st.multiselect("Sets", available, default=available[:1], key="eval_sets")
    folders = st.text_area(
        "Your own folders of HR images (one per line; LR is made by bicubic)", key="eval_folders"
    )
    sets = [root / name for name in chosen]
    sets += [Path(line.strip()) for line in folders.splitlines() if line.strip()]
    try:
        scales = parse_scales(st.text_input("Scales", value="2, 3, 4", key="eval_scales"))
    except ValueError as exc:
        st.error(str(exc))
        scales = []
    ready = bool(specs and sets and scales)
    if st.button("Evaluate", type="primary", key="eval_run", disabled=not ready):
        st.session_state["eval_results"] = run_evaluation(specs, sets, scales)
    if st.session_state.get("eval_results"):
        show_results(st.session_state["eval_results"])
        show_lineage(specs)
