"""Catalog: provenance recorded for existing images reads back as ``add_image`` would store it."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.catalog import Provenance, get_image, list_images, set_provenance
from curator.errors import CuratorError
from curator.prompts import add_prompt
from curator.workspace import Workspace


def test_set_provenance__every_column_reads_back(ws: Workspace, tmp_path: Path, ingest_set):
    parent, child, other = ingest_set(ws, tmp_path / "in", 3)
    prompt = add_prompt(ws, "a red bicycle")
    made = Provenance(
        source="generated",
        round=2,
        parent_id=parent,
        prompt_id=prompt,
        seed=41,
        generator_model="tiny-sd",
        generator_settings={"steps": 4, "mode": "img2img"},
    )
    set_provenance(ws, [child, child], made)
    record = get_image(ws, child)
    assert (record.source, record.round, record.parent_id, record.prompt_id) == (
        "generated", 2, parent, prompt,
    )  # fmt: skip
    assert (record.seed, record.generator_model) == (41, "tiny-sd")
    assert record.generator_settings == '{"mode": "img2img", "steps": 4}'
    assert [r.id for r in list_images(ws, prompt_id=prompt)] == [child]
    untouched = get_image(ws, other)
    assert (untouched.source, untouched.round, untouched.prompt_id) == ("original", 0, None)


def test_set_provenance__refuses_unknown_source_or_image(ws: Workspace, tmp_path: Path, ingest_set):
    (image,) = ingest_set(ws, tmp_path / "in", 1)
    with pytest.raises(CuratorError, match="unknown source"):
        set_provenance(ws, [image], Provenance(source="scanned"))
    with pytest.raises(CuratorError, match="no image with id 999"):
        set_provenance(ws, [image, 999], Provenance(round=3))
    assert get_image(ws, image).round == 0  # all or nothing
