"""Prompts page: versions with images, acceptance and lineage; refine; generate the next round."""

from __future__ import annotations

import streamlit as st

from curator.studio.feedback import friendly_errors
from curator.studio.progress import JobProgress
from curator.studio.state import open_current

GRID_LIMIT = 40


def _label(prompt) -> str:
    text = prompt.text if len(prompt.text) <= 70 else prompt.text[:67] + "…"
    return f"#{prompt.id} · {text}"


def prompts_table(ws, prompts: list) -> None:
    """Every prompt version with its parent, images and acceptance, in one table."""
    import pandas as pd

    from curator.prompts import prompt_stats

    rows = []
    for p in prompts:
        stats = prompt_stats(ws, p.id)
        decided = stats.accepted + stats.rejected
        rows.append({
            "id": p.id, "text": p.text, "parent": p.parent_id, "images": stats.total,
            "accepted": stats.accepted, "rejected": stats.rejected,
            "acceptance": round(stats.accepted / decided, 3) if decided else None,
        })  # fmt: skip
    with st.expander(f"All prompts ({len(prompts)})"):
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="prompt_table")


def _new_prompt(ws) -> None:
    from curator.prompts import add_prompt

    with st.expander("New prompt"):
        text = st.text_area("Prompt", key="prompt_new_text")
        negative = st.text_input("Negative prompt", key="prompt_new_negative")
        if st.button("Add prompt", key="prompt_add", disabled=not text.strip()):
            new_id = add_prompt(ws, text, negative=negative)
            st.session_state["prompt_pick"] = new_id
            st.rerun()


def show_version(ws, prompt) -> None:
    """Text, lineage, acceptance and the images of one prompt version."""
    from curator.catalog import list_images
    from curator.prompts import lineage, prompt_stats
    from curator.store import thumbnail

    st.markdown(f"**Prompt:** {prompt.text}")
    if prompt.negative:
        st.markdown(f"**Negative:** {prompt.negative}")
    chain = lineage(ws, prompt.id)
    st.caption("Lineage: " + " → ".join(f"#{p.id}" for p in chain))
    stats = prompt_stats(ws, prompt.id)
    decided = stats.accepted + stats.rejected
    cols = st.columns(4)
    cols[0].metric("Images", stats.total)
    cols[1].metric("Accepted", stats.accepted)
    cols[2].metric("Rejected", stats.rejected)
    cols[3].metric("Acceptance", f"{stats.accepted / decided:.0%}" if decided else "–")
    images = list_images(ws, prompt_id=prompt.id)
    if images:
        shown = images[:GRID_LIMIT]
        st.image(
            [str(thumbnail(ws, r.id)) for r in shown],
            caption=[f"#{r.id} {r.status}" for r in shown],
            width=112,
        )


def refine_section(ws, prompt) -> None:
    """The curator's suggestions, an editable proposal, saved as a new linked version."""
    from curator.refine import apply_refinement, suggest_refinement

    st.subheader("Refine")
    if st.button("Suggest a refinement", key="prompt_suggest"):
        with friendly_errors():  # no CLIP: a message, and the editor below stays for a manual edit
            suggestion = suggest_refinement(ws, prompt.id)
            st.session_state["prompt_suggestion"] = (prompt.id, suggestion)
            st.session_state["prompt_edit_text"] = suggestion.proposed_text
            st.session_state["prompt_edit_negative"] = suggestion.proposed_negative
    pending = st.session_state.get("prompt_suggestion")
    if pending and pending[0] == prompt.id:
        s = pending[1]
        st.markdown(
            f"Rejection rate **{s.rejection_rate:.0%}** · add: {', '.join(s.positive_terms) or '–'}"
            f" · avoid: {', '.join(s.negative_terms) or '–'}"
        )
        if s.diff:
            st.code(s.diff, language=None)
    if st.session_state.get("prompt_edit_for") != prompt.id:  # start editing from this version
        st.session_state["prompt_edit_for"] = prompt.id
        st.session_state["prompt_edit_text"] = prompt.text
        st.session_state["prompt_edit_negative"] = prompt.negative
    text = st.text_area("New version", key="prompt_edit_text")
    negative = st.text_input("Negative", key="prompt_edit_negative")
    if st.button("Save as a new version", key="prompt_save", disabled=not text.strip()):
        new_id = apply_refinement(ws, prompt.id, text=text, negative=negative)
        st.session_state.pop("prompt_suggestion", None)
        st.session_state["prompt_next_pick"] = new_id  # the selectbox exists already this run
        st.rerun()


def generate_section(ws, prompt) -> None:
    """Generate the next round from this version; the curator embeds and places new images."""
    from dataclasses import replace

    from curator.catalog import list_images
    from curator.generation import generate_round, settings_from_config

    st.subheader("Generate the next round")
    base = settings_from_config(ws)
    mode = st.radio("Mode", ["txt2img", "img2img"], horizontal=True, key="gen_mode")
    model = st.text_input(
        "Model (Hugging Face id or diffusers folder)", base.model, key="gen_model"
    )
    cols = st.columns(6)
    per_prompt = cols[0].number_input("Images", 1, 64, 4, key="gen_count")
    steps = cols[1].number_input("Steps", 1, 200, base.steps, key="gen_steps")
    guidance = cols[2].number_input("Guidance", 0.0, 30.0, float(base.guidance), key="gen_guidance")
    width = cols[3].number_input("Width", 16, 2048, base.width, step=16, key="gen_width")
    height = cols[4].number_input("Height", 16, 2048, base.height, step=16, key="gen_height")
    seed = cols[5].number_input("Seed", 0, 2**31 - 1, base.seed, key="gen_seed")
    strength = base.strength
    parents = None
    if mode == "img2img":  # strength means nothing to txt2img
        strength = st.slider(
            "img2img strength", 0.05, 1.0, float(base.strength), key="gen_strength"
        )
        parents = [r.id for r in list_images(ws, status="accepted", source="original")]
        st.caption(f"Variations of {len(parents)} accepted original(s).")
    disabled = mode == "img2img" and not parents
    if st.button("Generate", type="primary", key="gen_run", disabled=disabled):
        settings = replace(
            base, model=model.strip(), steps=int(steps), guidance=float(guidance),
            width=int(width), height=int(height), seed=int(seed), strength=float(strength),
        )  # fmt: skip
        job = JobProgress(
            "Generating", "generate", "Generation cancelled; the images finished so far are kept."
        )
        new_ids = generate_round(
            ws, prompt_ids=[prompt.id], mode=mode, per_prompt=int(per_prompt),
            parents=parents, settings=settings, progress=job,
        )  # fmt: skip
        job.close()
        st.success(f"Generated {len(new_ids)} image(s) in this round; they are on the map.")


def render() -> None:
    """Draw the Prompts page."""
    from curator.prompts import get_prompt, list_prompts

    st.title("Prompts")
    ws = open_current()
    if ws is None:
        return
    _new_prompt(ws)
    prompts = list_prompts(ws)
    if not prompts:
        st.info("No prompts yet: add one above.")
        return
    prompts_table(ws, prompts)
    ids = [p.id for p in prompts]
    if "prompt_next_pick" in st.session_state:
        st.session_state["prompt_pick"] = st.session_state.pop("prompt_next_pick")
    if st.session_state.get("prompt_pick") not in ids:
        st.session_state["prompt_pick"] = ids[-1]
    by_id = {p.id: p for p in prompts}
    pick = st.selectbox("Version", ids, format_func=lambda i: _label(by_id[i]), key="prompt_pick")
    prompt = get_prompt(ws, pick)
    show_version(ws, prompt)
    with friendly_errors():  # e.g. refinement needs CLIP text features
        refine_section(ws, prompt)
    with friendly_errors():  # e.g. diffusion weights not in the local cache
        generate_section(ws, prompt)
