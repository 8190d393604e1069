"""Export: imagefolder layout, metadata.jsonl columns, deterministic and stable split, card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from curator.catalog import list_images
from curator.curation import accept, reject
from curator.errors import CuratorError
from curator.export import assign_splits, export_dataset, split_score
from curator.store import image_path
from curator.workspace import Workspace

COLUMNS = {
    "file_name", "image_id", "content_hash", "source", "round", "parent_id", "prompt_id",
    "prompt", "negative_prompt", "seed", "generator_model", "generator_settings", "width",
    "height", "bit_depth", "mode", "original_name", "flags", "split",
}  # fmt: skip


def _read(out: Path) -> dict[str, list[dict]]:
    return {
        split: [
            json.loads(line) for line in (out / split / "metadata.jsonl").read_text().splitlines()
        ]
        for split in ("train", "validation")
    }


def test_export_dataset__imagefolder_layout(mapped_ws: Workspace, tmp_path: Path) -> None:
    ids = [r.id for r in list_images(mapped_ws)]
    accept(mapped_ws, ids[:20])
    reject(mapped_ws, ids[20:22])
    report = export_dataset(mapped_ws, tmp_path / "out", val_fraction=0.25, seed=7)
    out = tmp_path / "out"
    rows = _read(out)
    assert report.counts == {s: len(r) for s, r in rows.items()}
    assert sum(report.counts.values()) == 20 and report.counts["validation"] >= 1
    exported = {r["image_id"] for split in rows.values() for r in split}
    assert exported == set(ids[:20])  # accepted only
    for split, split_rows in rows.items():
        files = {p.name for p in (out / split).iterdir()} - {"metadata.jsonl"}
        assert files == {r["file_name"] for r in split_rows}  # every file listed, nothing else
        for r in split_rows:
            assert set(r) == COLUMNS and r["split"] == split and r["source"] == "original"
            # 7 of the 20 hash below 0.25 (seed 7): the minimum of one never applies here
            expected = "validation" if split_score(r["content_hash"], 7) < 0.25 else "train"
            assert split == expected
            stored = image_path(
                mapped_ws, next(x for x in list_images(mapped_ws) if x.id == r["image_id"])
            )
            assert (out / split / r["file_name"]).read_bytes() == stored.read_bytes()
    card = (out / "README.md").read_text()
    assert f"| train | {report.counts['train']} |" in card and "| train | original |" in card


def test_export_dataset__minimum_of_one_validation_image(
    mapped_ws: Workspace, tmp_path: Path
) -> None:
    records = list_images(mapped_ws)[:3]
    accept(mapped_ws, [r.id for r in records])
    scores = {r.id: split_score(r.content_hash, 0) for r in records}
    assert min(scores.values()) >= 0.1  # the hash alone would leave validation empty
    report = export_dataset(mapped_ws, tmp_path / "out", val_fraction=0.1, seed=0)
    rows = _read(tmp_path / "out")
    assert report.counts == {"train": 2, "validation": 1}
    assert [r["image_id"] for r in rows["validation"]] == [min(scores, key=scores.get)]
    assert {r["image_id"] for r in rows["train"]} == set(scores) - {min(scores, key=scores.get)}
    none = export_dataset(mapped_ws, tmp_path / "none", val_fraction=0.0, seed=0)
    assert none.counts["validation"] == 0  # asking for no validation gets none
    assert assign_splits(records[:1], 0.1, 0) == {records[0].id: "train"}  # one image: train


def test_export_dataset__deterministic_and_stable(mapped_ws: Workspace, tmp_path: Path) -> None:
    ids = [r.id for r in list_images(mapped_ws)]
    accept(mapped_ws, ids[:12])
    export_dataset(mapped_ws, tmp_path / "a", val_fraction=0.3)
    export_dataset(mapped_ws, tmp_path / "b", val_fraction=0.3)
    assert _read(tmp_path / "a") == _read(tmp_path / "b")
    accept(mapped_ws, ids[12:])
    export_dataset(mapped_ws, tmp_path / "a", val_fraction=0.3, overwrite=True)
    before, after = _read(tmp_path / "b"), _read(tmp_path / "a")
    for split in ("train", "validation"):  # adding images never moves existing ones
        assert {r["image_id"] for r in before[split]} <= {r["image_id"] for r in after[split]}


def test_export_dataset__refusals(mapped_ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(CuratorError, match="no accepted images"):
        export_dataset(mapped_ws, tmp_path / "out")
    accept(mapped_ws, [1, 2])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    with pytest.raises(CuratorError, match="not empty"):
        export_dataset(mapped_ws, tmp_path / "busy")
    assert (tmp_path / "busy" / "x").read_text() == "keep me"
    with pytest.raises(CuratorError, match="val-fraction"):
        export_dataset(mapped_ws, tmp_path / "out", val_fraction=1.5)


def test_assign_splits__split_of_content_hashes_unchanged() -> None:
    # pinned to the split from before sr.hashed_split owned it: a change moves exported images
    records = [
        SimpleNamespace(id=i, content_hash=hashlib.sha256(str(i).encode()).hexdigest())
        for i in range(20)
    ]
    splits = assign_splits(records, 0.25, seed=7)
    assert [i for i, split in splits.items() if split == "validation"] == [0, 1, 2, 9, 12, 15, 19]
    assert list(splits) == list(range(20))
    assert assign_splits(records[:3], 0.1, seed=7) == {0: "validation", 1: "train", 2: "train"}
