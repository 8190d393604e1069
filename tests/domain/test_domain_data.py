"""Domain experiment data: reserved clip-art categories never used; the dirty pool as labelled."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.clipart_data import RESERVED, eligible_svgs, split_by_hash
from benchmarks.dirty_pool import DIRTY_SHARES, build_pool, precision_recall, read_labels

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect fill="{}"/></svg>'


def _tree(root: Path) -> None:
    for category, colours in {
        "animals": ["red"],  # reserved
        "food": ["blue"],  # reserved
        "shapes": ["red", "green", "black"],  # "red" repeats a reserved file byte for byte
        "people": ["green", "white"],  # "green" repeats a shapes file
    }.items():
        for colour in colours:
            path = root / category / f"{colour}.svg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(SVG.format(colour))


def test_eligible_svgs__never_reserved_nor_their_copies(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = eligible_svgs(tmp_path)
    assert {c.category for c in found} <= {"shapes", "people"}
    assert not {c.category for c in found} & set(RESERVED)
    colours = sorted(c.svg.stem for c in found)
    assert colours == ["black", "green", "white"]  # red (a reserved copy) out, green once
    assert [c.sha256 for c in found] == sorted(c.sha256 for c in found)


def test_split_by_hash__disjoint_and_stable(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = eligible_svgs(tmp_path)
    splits = split_by_hash(reversed(found), {"test": 1, "val": 1, "pool": 5})
    assert [len(v) for v in splits.values()] == [1, 1, 1]
    names = [c.sha256 for v in splits.values() for c in v]
    assert len(set(names)) == 3 and splits == split_by_hash(found, {"test": 1, "val": 1, "pool": 5})


@pytest.fixture
def renders(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for k in range(100):
        pixels = np.full((240, 240, 3), 255, np.uint8)
        top, left = rng.integers(0, 120, 2)
        pixels[top : top + 100, left : left + 100] = rng.integers(0, 256, 3)
        path = tmp_path / "renders" / f"art-{k:03d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def test_build_pool__shares_labels_outside_the_pool(renders: list[Path], tmp_path: Path) -> None:
    pool, labels_csv = tmp_path / "pool", tmp_path / "labels.csv"
    items = build_pool(renders[:70], renders[70:], pool, labels_csv)
    counts = Counter(item.label for item in items)
    n_dirty = sum(v for k, v in counts.items() if k != "clean")
    assert counts["clean"] == 70 and n_dirty == 30  # 30 % of the pool
    for kind, share in DIRTY_SHARES.items():
        assert counts[kind] == round(30 * share)
    assert sorted(p.name for p in pool.iterdir()) == sorted(item.name for item in items)
    assert labels_csv.parent != pool and read_labels(labels_csv) == {
        item.name: item.label for item in items
    }
    small = [i.name for i in items if i.label == "too_small"]
    assert all(max(Image.open(pool / n).size) < 192 for n in small)


def test_precision_recall__against_labels() -> None:
    labels = {"a": "clean", "b": "clean", "c": "photo", "d": "jpeg"}
    report = precision_recall(labels, ["b", "c"])
    assert report["precision"] == 0.5 and report["recall"] == 0.5
    assert report["recall_photo"] == 1.0 and report["recall_jpeg"] == 0.0
