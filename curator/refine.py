"""Prompt refinement: which words separate a prompt's rejected images from its accepted ones.

The direction ``mean(rejected) − mean(accepted)`` in CLIP image space points towards what the
rejected images have in common. Each candidate phrase of a vocabulary is embedded with CLIP's
text tower, centred on the vocabulary mean (removing what all texts share, see
``curator.placement``), and scored by its cosine with that direction: high scores become
negative-prompt terms, the lowest (most "accepted-like") become positive terms.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from curator.catalog import list_images
from curator.embeddings import embed_images, embed_texts, get_encoder, image_embeddings
from curator.errors import CuratorError
from curator.placement import centre
from curator.prompts import add_prompt, get_prompt, prompt_stats
from curator.workspace import Workspace

VOCABULARY_FILE = "vocabulary.txt"  # optional, in the workspace: one extra phrase per line
VOCABULARY = (
    "blurry", "out of focus", "motion blur", "noisy", "grainy", "film grain", "jpeg artifacts",
    "compression artifacts", "pixelated", "low resolution", "watermark", "text", "logo",
    "signature", "border", "frame", "cartoon", "illustration", "painting", "drawing", "anime",
    "3d render", "cgi", "oversaturated", "washed out", "low contrast", "dark", "underexposed",
    "overexposed", "harsh shadows", "monochrome", "black and white", "sepia", "vignette",
    "lens flare", "chromatic aberration", "distorted", "deformed", "cropped", "duplicate",
    "smooth plastic skin", "flat colors", "repetitive pattern", "sharp", "in focus", "detailed",
    "fine texture", "high resolution", "crisp edges", "photograph", "realistic", "natural light",
    "daylight", "soft light", "macro", "close-up", "wide angle", "landscape", "portrait",
    "high dynamic range", "clean", "professional photo", "dslr", "8k",
)  # fmt: skip


@dataclass(frozen=True)
class Suggestion:
    """A proposed next version of a prompt, with the evidence behind it."""

    prompt_id: int
    rejection_rate: float
    accepted: int
    rejected: int
    positive_terms: list[str]
    negative_terms: list[str]
    proposed_text: str
    proposed_negative: str
    diff: str
    scores: list[tuple[str, float]] = field(default_factory=list)  # all terms, best first


def vocabulary(ws: Workspace) -> list[str]:
    """Built-in phrases plus the workspace's ``vocabulary.txt`` (if any), without repeats."""
    extra_file = ws.root / VOCABULARY_FILE
    extra = extra_file.read_text(encoding="utf-8").splitlines() if extra_file.exists() else []
    seen: dict[str, None] = {}
    for phrase in (*VOCABULARY, *extra):
        phrase = " ".join(phrase.split()).lower()
        if phrase and not phrase.startswith("#"):
            seen.setdefault(phrase)
    return list(seen)


def word_diff(old: str, new: str) -> str:
    """Word-level diff: unchanged words as is, ``[-removed]`` and ``[+added]``."""
    a, b = old.split(), new.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if op == "equal":
            out.extend(a[i1:i2])
        if op in ("delete", "replace"):
            out.extend(f"[-{w}]" for w in a[i1:i2])
        if op in ("insert", "replace"):
            out.extend(f"[+{w}]" for w in b[j1:j2])
    return " ".join(out)


def _extend(text: str, terms: list[str]) -> str:
    return ", ".join(part for part in (text.strip(" ,"), *terms) if part)


def score_terms(direction: np.ndarray, term_vectors: np.ndarray) -> np.ndarray:
    """Cosine of each centred term embedding ``(T, D)`` with a direction ``(D,)``."""
    centred = centre(term_vectors, term_vectors.mean(axis=0))
    return centred @ (direction / max(float(np.linalg.norm(direction)), 1e-12))


def suggest_refinement(ws: Workspace, prompt_id: int, *, n_terms: int = 3) -> Suggestion:
    """Rejection rate and proposed edits for one prompt version (needs a CLIP encoder)."""
    prompt = get_prompt(ws, prompt_id)
    stats = prompt_stats(ws, prompt_id)
    encoder = get_encoder(ws)
    if not encoder.supports_text:
        raise CuratorError(
            f"refinement scores words against images with CLIP's text tower; this workspace's "
            f"encoder {encoder.name} embeds images only (use embedding.encoder: "
            "open_clip:MODEL:PRETRAINED). Rejection rate of prompt "
            f"#{prompt_id}: {stats.rejection_rate:.0%}"
        )
    if stats.accepted == 0 or stats.rejected == 0:
        raise CuratorError(
            f"prompt #{prompt_id} needs at least one accepted and one rejected image "
            f"(has {stats.accepted} accepted, {stats.rejected} rejected)"
        )
    embed_images(ws)
    groups = {}
    for status in ("accepted", "rejected"):
        ids = [r.id for r in list_images(ws, status=status, prompt_id=prompt_id)]
        groups[status] = image_embeddings(ws, ids)[1]
    direction = groups["rejected"].mean(axis=0) - groups["accepted"].mean(axis=0)
    terms = vocabulary(ws)
    scores = score_terms(direction, embed_texts(ws, terms))
    order = np.argsort(-scores)
    text_words, negative_words = prompt.text.lower(), prompt.negative.lower()
    negative_terms = [terms[i] for i in order if scores[i] > 0 and terms[i] not in negative_words][
        :n_terms
    ]
    positive_terms = [
        terms[i] for i in order[::-1] if scores[i] < 0 and terms[i] not in text_words
    ][:n_terms]
    proposed_text = _extend(prompt.text, positive_terms)
    proposed_negative = _extend(prompt.negative, negative_terms)
    diff = (
        f"prompt:   {word_diff(prompt.text, proposed_text)}\n"
        f"negative: {word_diff(prompt.negative, proposed_negative)}"
    )
    return Suggestion(
        prompt_id=prompt_id,
        rejection_rate=stats.rejection_rate,
        accepted=stats.accepted,
        rejected=stats.rejected,
        positive_terms=positive_terms,
        negative_terms=negative_terms,
        proposed_text=proposed_text,
        proposed_negative=proposed_negative,
        diff=diff,
        scores=[(terms[i], float(scores[i])) for i in order],
    )


def apply_refinement(ws: Workspace, prompt_id: int, *, text: str, negative: str) -> int:
    """Store the accepted (or edited) proposal as a new version linked to ``prompt_id``."""
    get_prompt(ws, prompt_id)
    return add_prompt(
        ws, text, negative=negative, parent_id=prompt_id, note=f"refined from #{prompt_id}"
    )
