"""Prompt refinement: the constructed case names the shared attribute; diff; lineage; no CLIP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import curator.embeddings as embeddings
from curator.catalog import Provenance, set_provenance
from curator.curation import accept, reject
from curator.errors import CuratorError
from curator.ingest import ingest_paths
from curator.prompts import add_prompt, get_prompt, lineage
from curator.refine import apply_refinement, suggest_refinement, word_diff
from curator.workspace import Workspace, init_workspace
from tests.curator.helpers import NAMES, natural, save

DIM = 96


def _word(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
    v = np.random.default_rng(seed).normal(size=DIM)
    return v / np.linalg.norm(v)


class ToyClip:
    """Texts: sum of word vectors plus a text-cone offset. Images: content plus a vector
    along the phrase "noisy" proportional to measured high-frequency noise, plus an
    image-cone offset. An encoder in which "noisy" is the attribute the pixels carry."""

    name = "open_clip:toy:none"
    dim = DIM
    supports_text = True

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        rows = [sum(_word(w) for w in t.lower().replace(",", " ").split()) for t in texts]
        rows = [r / np.linalg.norm(r) + 2.0 * _word("<text-cone>") for r in rows]
        return np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)

    def encode_images(self, images: list[np.ndarray]) -> np.ndarray:
        rows = []
        for image in images:
            gray = image.mean(axis=2)
            noise = np.abs(gray - cv2.GaussianBlur(gray, (0, 0), 1.5)).mean() / 10.0
            content = np.random.default_rng(int(gray.sum()) % 2**32).normal(size=DIM) * 0.1
            rows.append(content + noise * _word("noisy") + 2.0 * _word("<image-cone>"))
        return np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)


@pytest.fixture
def toy_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, int]:
    """A prompt with 6 clean accepted and 6 noisy rejected images, embedded by ``ToyClip``."""
    monkeypatch.setattr(embeddings, "load_encoder", lambda name, device="cpu": ToyClip())
    ws = init_workspace(tmp_path / "ws", encoder=ToyClip.name)
    prompt = add_prompt(ws, "a photo of a street", negative="cartoon")
    rng = np.random.default_rng(0)
    for k in range(12):
        img = natural(NAMES[k % 6], 64, offset=10 * (k // 6)).astype(np.int16)
        if k >= 6:
            img = img + rng.normal(0, 25, img.shape).astype(np.int16)
        save(tmp_path / "in" / f"{k:02d}.png", np.clip(img, 0, 255).astype(np.uint8))
    ids = ingest_paths(ws, [tmp_path / "in"]).added
    set_provenance(ws, ids, Provenance(source="generated", round=1, prompt_id=prompt))
    accept(ws, ids[:6])
    reject(ws, ids[6:])
    return ws, prompt


def test_suggest_refinement__names_the_shared_attribute(toy_ws: tuple[Workspace, int]) -> None:
    ws, prompt = toy_ws
    s = suggest_refinement(ws, prompt)
    assert s.rejection_rate == 0.5 and (s.accepted, s.rejected) == (6, 6)
    assert s.negative_terms[0] == "noisy"
    assert s.proposed_negative.startswith("cartoon, noisy")
    assert "cartoon" not in s.negative_terms  # already in the negative prompt
    assert s.proposed_text.startswith("a photo of a street, ")
    assert all(t in s.proposed_text for t in s.positive_terms) and s.positive_terms
    assert "[+noisy" in s.diff and "[+" in s.diff.splitlines()[0]
    new = apply_refinement(ws, prompt, text=s.proposed_text, negative=s.proposed_negative)
    assert [p.id for p in lineage(ws, new)] == [prompt, new]
    assert get_prompt(ws, new).negative == s.proposed_negative


def test_suggest_refinement__needs_both_decisions(toy_ws: tuple[Workspace, int]) -> None:
    ws, _ = toy_ws
    lonely = add_prompt(ws, "nothing generated")
    with pytest.raises(CuratorError, match="at least one accepted and one rejected"):
        suggest_refinement(ws, lonely)


def test_suggest_refinement__says_it_needs_clip(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", encoder="efficientnet-lite0")
    prompt = add_prompt(ws, "a cat")
    with pytest.raises(CuratorError, match="CLIP") as info:
        suggest_refinement(ws, prompt)
    assert "Rejection rate" in str(info.value)


def test_word_diff__marks_insertions_and_removals() -> None:
    assert word_diff("a red car", "a blue car, sharp") == "a [-red] [-car] [+blue] [+car,] [+sharp]"
    assert word_diff("x y", "x y") == "x y"
