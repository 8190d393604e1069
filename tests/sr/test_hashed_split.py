"""The hashed split, and ``sr train``'s folder split pinned to what it gave before it shared
``sr.hashed_split`` with ``curator export`` (a change would move existing images)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sr.hashed_split import hash_rank, validation_items
from sr.training.image_folders import split_images

NAMES = [f"img{i:02d}.png" for i in range(20)]


def test_hash_rank__first_eight_digest_bytes_in_unit_interval() -> None:
    digest = hashlib.sha256(b"key").digest()
    assert hash_rank(b"key", "sha256") == int.from_bytes(digest[:8], "big") / 2**64
    assert 0.0 <= hash_rank(b"", "sha1") < 1.0


def test_validation_items__below_fraction_else_the_lowest_of_two_or_more() -> None:
    ranks = {"a": 0.5, "b": 0.05, "c": 0.3}
    assert validation_items(ranks, 0.31) == {"b", "c"}
    assert validation_items(ranks, 0.01) == {"b"}  # none below: the lowest one
    assert validation_items(ranks, 0.0) == set()  # no validation asked for
    assert validation_items({"a": 0.5}, 0.01) == set()  # a single item trains


def test_split_images__plain_folder_split_of_names_unchanged(tmp_path: Path) -> None:
    for name in NAMES:
        (tmp_path / name).write_bytes(b"")  # the split reads names only
    split = split_images(tmp_path, val_fraction=0.25)
    val = ["img06.png", "img12.png", "img17.png", "img18.png", "img19.png"]
    assert [p.name for p in split.val] == val
    assert [p.name for p in split.train] == [n for n in NAMES if n not in val]
    for name in NAMES[3:]:
        (tmp_path / name).unlink()
    assert [p.name for p in split_images(tmp_path, val_fraction=0.1).val] == ["img01.png"]
