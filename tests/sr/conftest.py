"""Fixtures shared by the ``sr`` tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sr.weights import save_model
from tests.sr.helpers import tiny_model


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LIIF saved as safetensors, for commands that take ``--weights``."""
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(tiny_model(), path)
    return path
