"""Peak memory of ``sr upscale`` to PNG stays within 1.5 GB however large the output.

The output is written band by band, so a 4000x3000 x4 upscale (16000x12000, 576 MB of 8-bit
RGB) must fit in the same budget as a small one. The tiny test model keeps the run to minutes on
two CPU cores; the official model adds its weights (19 MB) and its larger tile work, which
``benchmarks/sr_memory.py`` measures.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr.weights import save_model
from tests.sr.helpers import tiny_model

MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk (Pillow refuses 192 MP as a decompression bomb)."""
    with open(path, "rb") as fh:
        header = fh.read(24)
    return struct.unpack(">II", header[16:24])


@pytest.mark.slow
def test_upscale__4000x3000_x4_png_within_1_5_gb(tmp_path):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(75, 100, 3), dtype=np.uint8)
    Image.fromarray(small).resize((4000, 3000), Image.BICUBIC).save(tmp_path / "in.png")
    save_model(tiny_model(), tmp_path / "tiny.safetensors")
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    cmd = [
        *(sys.executable, "-c", "import sys; from sr.cli import main; sys.exit(main())"),
        *("upscale", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--scale", "4"),
        *("--weights", str(tmp_path / "tiny.safetensors"), "--quiet"),
    ]
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True, env=env
    )
    peak = int(out.stdout.strip().splitlines()[-1]) / 1024
    assert _png_size(tmp_path / "out.png") == (16000, 12000)
    assert peak < 1536, f"peak RSS {peak:.0f} MB"


def _traced_peak(tmp_path: Path, lr_height: int, suffix: str) -> int:
    """numpy's peak allocation (traced) while ``upscale_file`` writes a x16 upscale."""
    import tracemalloc

    from sr.inference import TileSettings
    from sr.upscale import Target, upscale_file

    rgba = np.random.default_rng(0).integers(0, 256, (lr_height, 64, 4), np.uint8)
    Image.fromarray(rgba).save(tmp_path / "in.png")
    model = tiny_model()
    tracemalloc.start()
    try:
        upscale_file(
            model,
            tmp_path / "in.png",
            tmp_path / f"out{suffix}",
            Target(scale=(16.0, 16.0)),
            settings=TileSettings(tile=8),  # bands of 128 output rows
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_upscale_file__streamed_memory_does_not_grow_with_height(tmp_path, suffix):
    """Eight times the rows (1 MB → 8 MB of output), same peak: one band is held, not the image.

    The peak is one band (128 rows, 0.5 MB) plus the PNG filter's fixed work (~5 MB).
    """
    short, tall = _traced_peak(tmp_path, 16, suffix), _traced_peak(tmp_path, 128, suffix)
    assert tall < 1.25 * short, f"peak {short / 1e6:.1f} MB -> {tall / 1e6:.1f} MB"
