"""Lineage: an export's catalog state travels into the run and out of `sr eval --json`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sr.cli import main as sr_main
from sr.export_layout import LINEAGE as LINEAGE_FILE
from sr.lineage import model_lineage, write_export_lineage
from sr.train import main as train_main
from sr.training.config import dump_config
from tests.sr.train_helpers import make_image_folder, tiny_train_config

LINEAGE = {
    "workspace": "/data/ws",
    "last_event_id": 42,
    "accepted": 6,
    "accepted_ids_sha256": "ab" * 32,
    "rejection_reasons": {"quality flag": 2},
    "rejected": [{"id": 7, "reason": "quality flag", "flags": ["upsampled"]}],
}


def _export_like(folder: Path) -> Path:
    """An export-layout folder (train/ + validation/ with metadata.jsonl) carrying a lineage."""
    images = make_image_folder(folder / "images", n=6)
    for split, names in (("train", range(4)), ("validation", range(4, 6))):
        (folder / split).mkdir(parents=True)
        rows = []
        for k in names:
            shutil.copy(images / f"img{k:02d}.png", folder / split / f"img{k:02d}.png")
            rows.append(json.dumps({"file_name": f"img{k:02d}.png"}))
        (folder / split / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    shutil.rmtree(images)
    write_export_lineage(folder, LINEAGE)
    return folder


def test_lineage__from_export_to_run_to_eval(tmp_path: Path, capsys) -> None:
    data = _export_like(tmp_path / "export")
    config = tmp_path / "tiny.yaml"
    config.write_text(dump_config(tiny_train_config()))
    run = tmp_path / "run"
    argv = ["--data", str(data), "--out", str(run), "--config", str(config), "--max-steps", "2"]
    assert train_main([*argv, "--quiet"]) == 0
    (data / LINEAGE_FILE).unlink()  # the run keeps its own copy
    expected = {"run": str(run), "data": str(data.resolve()), "data_lineage": LINEAGE}
    assert model_lineage(run) == expected
    assert model_lineage(run / "checkpoints" / "last.safetensors") == expected
    hr = make_image_folder(tmp_path / "hr", n=1, size=(48, 48))
    capsys.readouterr()
    assert sr_main(["eval", str(hr), "--scale", "2", "--weights", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lineage"] == expected and report["images"] == 1


def test_model_lineage__none_for_weights_from_no_run(tmp_path: Path) -> None:
    assert model_lineage("official") is None
    loose = tmp_path / "model.safetensors"
    loose.write_bytes(b"")
    assert model_lineage(loose) is None


def test_model_lineage__a_loose_file_beside_a_run_json_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"data": "/x"}')
    loose = tmp_path / "sub" / "model.safetensors"
    loose.parent.mkdir()
    loose.write_bytes(b"")
    assert model_lineage(loose) is None
