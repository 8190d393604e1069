"""Train page: export the curated set, ``sr train`` in the background, live curves, stop/resume."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from curator.studio.feedback import friendly_errors
from curator.studio.jobs import (
    Job,
    current_job,
    job_progress,
    log_tail,
    start_job,
    stop_job,
    trainer_command,
)
from curator.studio.state import open_current
from curator.workspace_layout import WorkspaceLayout
from sr.export_layout import is_export
from sr.run_layout import has_checkpoints, read_metrics
from sr.training.recipes import list_recipes
from sr.weights import resolve_weights

REFRESH_S = 3.0
PAPER, CUSTOM = "paper recipe (no config)", "custom YAML file…"
DOMAIN_RECIPE = "finetune-domain"


def exports(ws_root: Path) -> list[Path]:
    """Export folders of a workspace (newest first)."""
    folder = WorkspaceLayout(ws_root).exports_dir  # without opening the catalog
    found = [p for p in folder.glob("*") if is_export(p)] if folder.is_dir() else []
    return sorted(found, reverse=True)


def metrics_frame(run_dir: Path) -> pd.DataFrame | None:
    """``sr.run_layout.read_metrics`` as a frame for the charts; None while there is nothing."""
    rows = read_metrics(run_dir)
    return pd.DataFrame(rows) if rows else None


def show_curves(run_dir: Path) -> None:
    """Loss and validation PSNR against the step, as the run writes them."""
    frame = metrics_frame(run_dir)
    if frame is None:
        st.caption("No metrics yet.")
        return
    loss_cols = [c for c in frame.columns if c.lower() == "loss"]
    psnr_cols = [c for c in frame.columns if "psnr" in c.lower()]
    left, right = st.columns(2)
    if loss_cols:
        data = frame[["step", *loss_cols]].dropna(subset=loss_cols, how="all")
        left.plotly_chart(
            px.line(data, x="step", y=loss_cols, title="Training loss"), key="train_loss"
        )
    if psnr_cols:
        data = frame[["step", *psnr_cols]].dropna(subset=psnr_cols, how="all")
        fig = px.line(data, x="step", y=psnr_cols, markers=True, title="Validation PSNR (dB)")
        right.plotly_chart(fig, key="train_psnr")


def _export_section(ws) -> None:
    st.subheader("1 · Export the accepted images")
    val = st.number_input("Validation fraction", 0.0, 0.9, 0.1, 0.05, key="train_val_fraction")
    if st.button("Export", key="train_export"):
        from curator.export import export_dataset

        out = ws.exports_dir / time.strftime("%Y%m%d-%H%M%S")
        export_dataset(ws, out, val_fraction=val)
        st.session_state["train_data"] = str(out)
        st.session_state["train_data_pick"] = str(out)  # train on what was just exported
        st.success(f"Exported to `{out}`.")


def _option(command: list[str], flag: str) -> str | None:
    """The value after ``flag`` in a trainer command line, if any."""
    return command[command.index(flag) + 1] if flag in command[:-1] else None


def restore_form(job: Job | None, recipes: list[str]) -> None:
    """A new session (a reload) starts from the last run's choices, not the defaults."""
    if job is None or st.session_state.get("train_form_restored"):
        return
    st.session_state["train_form_restored"] = True
    command = job.command
    if "--resume" in command:
        return  # a resume names only the run
    if (data := _option(command, "--data")) is not None:
        st.session_state.setdefault("train_data_pick", data)
    if (init := _option(command, "--init")) in ("official", "none"):
        st.session_state.setdefault("train_init", init)
    if (steps := _option(command, "--max-steps")) is not None:
        st.session_state.setdefault("train_steps", int(steps))
    config = _option(command, "--config")
    if config is None:
        st.session_state.setdefault("train_recipe", PAPER)
    elif config in recipes:
        st.session_state.setdefault("train_recipe", config)
    else:
        st.session_state.setdefault("train_recipe", CUSTOM)
        st.session_state.setdefault("train_config", config)


def _start_section(ws) -> None:
    st.subheader("2 · Train")
    recipes = [PAPER, *list_recipes(), CUSTOM]
    restore_form(current_job(ws.root), recipes)
    found = [str(p) for p in exports(ws.root)]
    picked = st.session_state.get("train_data_pick")
    if picked and picked not in found and picked != "Other folder…":  # a folder typed last time
        st.session_state["train_data_pick"] = "Other folder…"
        st.session_state.setdefault("train_data_path", picked)
    data = st.selectbox("Data (an export folder)", [*found, "Other folder…"], key="train_data_pick")
    if data == "Other folder…":
        data = st.text_input("Image folder", key="train_data_path").strip()
    if "train_run_name" not in st.session_state:  # a fixed default: a value= that changes on
        st.session_state["train_run_name"] = time.strftime("run-%Y%m%d-%H%M%S")  # rerun resets it
    name = st.text_input("Run name", key="train_run_name")
    init = st.radio(
        "Start from", ["official", "none"], horizontal=True, key="train_init",
        format_func=lambda v: "official LIIF weights (fine-tune)" if v == "official" else "scratch",
    )  # fmt: skip
    steps = st.number_input(
        "Steps", 1, 10_000_000, None, key="train_steps", placeholder="the recipe's own",
        help="empty: the recipe decides (finetune-domain: 800 steps, about 10 min on 2 cores "
        "with bf16, 20 in fp32)",
    )  # fmt: skip
    if "train_recipe" not in st.session_state:
        st.session_state["train_recipe"] = DOMAIN_RECIPE if DOMAIN_RECIPE in recipes else PAPER
    recipe = st.selectbox(
        "Recipe", recipes, key="train_recipe",
        help="finetune-domain: ~300 images of your domain on a CPU (docs/training.md)",
    )  # fmt: skip
    if recipe == CUSTOM:
        config = st.text_input(
            "Config YAML", key="train_config", placeholder="e.g. my-recipe.yaml"
        ).strip()
    else:
        config = "" if recipe == PAPER else recipe
    job = current_job(ws.root)
    busy = job is not None and job.state() == "running"
    if busy:
        st.info(f"Run `{Path(job.run_dir).name}` is training: stop it below to start another.")
    if st.button("Start training", type="primary", key="train_start", disabled=busy or not data):
        if init == "official":
            resolve_weights("official")  # missing weights: a clear message now, not a dead job
        run_dir = ws.runs_dir / name
        args = ["train", "--data", data, "--out", str(run_dir), "--init", init]
        args += ["--max-steps", str(int(steps))] if steps else []
        args += ["--config", config] if config else []
        start_job(ws.root, run_dir, trainer_command(*args))
        st.rerun()


def _job_section(ws) -> None:
    job = current_job(ws.root)
    if job is None:
        return
    state = job.state()
    st.subheader(f"Run `{Path(job.run_dir).name}` · {state}")
    st.caption(f"pid {job.pid} · `{job.run_dir}` · log `{job.log}`")
    cols = st.columns([1, 1, 6])
    if state == "running" and cols[0].button("Stop", key="train_stop"):
        stop_job(job)
        st.rerun()
    resumable = has_checkpoints(job.run_dir)
    if state != "running" and resumable and cols[1].button("Resume", key="train_resume"):
        start_job(ws.root, Path(job.run_dir), trainer_command("train", "--resume", job.run_dir))
        st.rerun()
    # Refresh only while the run is alive: a finished run's page stays still.
    st.fragment(run_every=REFRESH_S if state == "running" else None)(_live)(ws.root, state)


def _live(ws_root: Path, state: str) -> None:
    """Curves and log tail, refreshed every few seconds without rerunning the whole page."""
    job = current_job(ws_root)
    if job is None:
        return
    if job.state() != state:
        st.rerun()  # the run ended (or restarted): redraw the buttons too
    if state == "running":
        st.caption(job_progress(job))
    show_curves(Path(job.run_dir))
    with st.expander("Log", expanded=state != "running"):
        st.code(log_tail(job) or "(empty)", language=None)


def render() -> None:
    """Draw the Train page."""
    st.title("Train")
    ws = open_current()
    if ws is None:
        return
    with friendly_errors():
        _export_section(ws)
    with friendly_errors():
        _start_section(ws)
    _job_section(ws)
