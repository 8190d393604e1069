"""Catalog-only ``curator`` commands must not import torch (it costs seconds per command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from curator.workspace import init_workspace

PROBE = """
import json, sys
from curator.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


@pytest.mark.parametrize(
    "argv", [["status"], ["status", "--json"], ["list"], ["accept", "--all-pending"]]
)
def test_catalog_commands_do_not_import_torch(tmp_path: Path, argv: list[str]) -> None:
    ws = tmp_path / "ws"
    init_workspace(ws, encoder="efficientnet-lite0")
    images = tmp_path / "in"
    images.mkdir()
    Image.new("RGB", (256, 256), (200, 30, 30)).save(images / "red.png")
    subprocess.run(
        [sys.executable, "-m", "curator.cli", "ingest", str(ws), str(images)],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, argv[0], str(ws), *argv[1:]],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "torch": False}
