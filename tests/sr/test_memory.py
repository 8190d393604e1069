"""Peak memory of ``sr upscale`` is bounded by the tile settings, not the image size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _peak_rss_mb(cmd: list[str]) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True, env=env
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


@pytest.mark.slow
def test_upscale__1024_to_4096_within_1_5_gb(tmp_path):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(small).resize((1024, 1024), Image.BICUBIC).save(tmp_path / "in.png")
    sr_bin = str(Path(sys.executable).with_name("sr"))
    peak = _peak_rss_mb(
        [
            sr_bin,
            "upscale",
            str(tmp_path / "in.png"),
            "-o",
            str(tmp_path / "out.png"),
            "--scale",
            "4",
            "--quiet",
        ]
    )
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (4096, 4096)
    assert peak <= 1536, f"peak RSS {peak:.0f} MB"
