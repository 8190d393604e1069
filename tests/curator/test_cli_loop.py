"""The whole loop through the CLI, on the offline sample workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from curator.cli import main
from curator.sample import skimage_pictures


def _pillow_opens(path: Path) -> bool:
    try:
        with Image.open(path):
            return True
    except OSError:
        return False


def _json(capsys: pytest.CaptureFixture[str]):
    return json.loads(capsys.readouterr().out)


def test_cli__sample_then_full_loop(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "sample")
    assert main(["sample", ws, "--encoder", "efficientnet-lite0"]) == 0
    assert "encoder efficientnet-lite0" in capsys.readouterr().out
    assert main(["status", ws, "--json"]) == 0
    counts = _json(capsys)
    originals = sum(_pillow_opens(p) for p in skimage_pictures())  # multipage_rgb.tif: no
    assert counts["by_source"] == {"original": originals, "augmented": 2}
    assert counts["by_status"]["accepted"] > 10 and counts["by_flag"]["too_small"] >= 1
    assert Image.open(tmp_path / "sample" / "map.png").format == "PNG"

    assert main(["embed", ws]) == 0
    assert "embedded 0 new image(s)" in capsys.readouterr().out  # cached
    assert main(["prompt", "add", ws, "a cat on a wall", "--negative", "blurry"]) == 0
    assert capsys.readouterr().out.startswith("prompt #")
    assert main(["prompt", "list", ws, "--json"]) == 0
    prompts = _json(capsys)
    new_prompt = prompts[-1]["id"]
    assert prompts[-1]["negative"] == "blurry"
    assert main([
        "generate", ws, "--prompt", str(new_prompt), "--per-prompt", "2", "--model",
        str(tiny_model_dir), "--steps", "2", "--width", "32", "--height", "32",
    ]) == 0  # fmt: skip
    said = capsys.readouterr()
    assert "generated 2 image(s)" in said.out
    assert "round 1 (if interrupted, add --round 1 to finish it)" in said.err
    assert main(["list", ws, "--round", "1", "--json"]) == 0
    generated = _json(capsys)
    assert [g["prompt_id"] for g in generated] == [new_prompt] * 2
    assert main(["reject", ws, str(generated[0]["id"]), "--reason", "noise"]) == 0
    assert main(["accept", ws, str(generated[1]["id"])]) == 0
    assert main(["map", ws, "--png", str(tmp_path / "m.png"), "--color-by", "round"]) == 0
    out = capsys.readouterr().out
    assert "map extended" in out and "0 image(s) placed" in out  # generate placed them already
    assert main(["refine", ws, str(new_prompt)]) == 2
    assert "CLIP" in capsys.readouterr().err
    assert main(["export", ws, str(tmp_path / "ds"), "--val-fraction", "0.2"]) == 0
    assert "exported" in capsys.readouterr().out
    rows = [
        json.loads(line)
        for split in ("train", "validation")
        for line in (tmp_path / "ds" / split / "metadata.jsonl").read_text().splitlines()
    ]
    assert len(rows) == counts["by_status"]["accepted"] + 1
    assert any(r["prompt"] == "a cat on a wall" and r["round"] == 1 for r in rows)
