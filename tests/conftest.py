"""Test-wide settings: one thread per process (2 cores, oversubscription makes everything crawl)."""

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# the studio's recent-workspaces list lives in the user's config folder: never the real one
os.environ["XDG_CONFIG_HOME"] = __import__("tempfile").mkdtemp(prefix="curator-tests-config-")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(os.environ.get("SR_BENCHMARKS", REPO_ROOT.parent / "shared" / "benchmarks"))


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    """The shared Set5/Set14 folder; tests that need it skip with a reason when it is absent."""
    if not (BENCHMARKS / "Set5" / "HR").is_dir():
        pytest.skip(f"benchmark sets not found at {BENCHMARKS} (set SR_BENCHMARKS)")
    return BENCHMARKS
