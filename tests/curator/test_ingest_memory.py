"""Ingest memory does not grow with the image: quality scores run on reduced copies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from curator.catalog import list_images
from curator.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def test_ingest__144_megapixel_gray_png_stays_small(ws: Workspace, tmp_path: Path) -> None:
    # 12000x12000 gray, 14 MB on disk; full-size float64 scoring took 5.6 GB here
    pixels = np.zeros((12000, 12000), np.uint8)
    pixels[::7, :] = 200
    pixels[:, ::13] = 90
    cv2.imwrite(str(tmp_path / "scan.png"), pixels)
    del pixels
    # clear_refs "5" resets the peak, which a forked child inherits from the large test process
    child = (
        "import sys; open('/proc/self/clear_refs', 'w').write('5'); from curator.cli import main; "
        "code = main(sys.argv[1:]); "
        "print('peak', next(line.split()[1] for line in open('/proc/self/status') "
        "if line.startswith('VmHWM'))); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", child, "ingest", str(ws.root), str(tmp_path / "scan.png")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout.split("peak")[-1]) / 1024
    # the process imports ~0.7 GB of libraries; the 144 MB image adds ~0.3 GB
    assert peak_mb < 1200, f"peak RSS {peak_mb:.0f} MB"
    (record,) = list_images(ws)
    assert (record.width, record.height) == (12000, 12000)
