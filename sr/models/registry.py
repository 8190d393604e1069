"""Architectures by the name a checkpoint carries, so loading builds what was saved.

A checkpoint's metadata holds ``{"name": ..., "args": {...}}`` (``LIIFConfig.to_json``); the
name picks the builder here, as ``models.make`` does in the LIIF code and ``build_network`` in
BasicSR. A new architecture is one entry in ``ARCHITECTURES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from torch import nn

from sr.models.liif import LIIF, LIIF_EDSR, LIIFConfig

ARCHITECTURES: dict[str, Callable[[dict[str, Any]], nn.Module]] = {
    LIIF_EDSR: lambda args: LIIF(LIIFConfig.from_args(args)),
}


def build_model(spec: str) -> nn.Module:
    """The untrained network a checkpoint's JSON ``spec`` names; ValueError for unknown names."""
    parsed = json.loads(spec)
    name = parsed.get("name") if isinstance(parsed, dict) else None
    if name not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {name!r} (this version builds: {known})")
    if not isinstance(parsed.get("args"), dict):
        raise ValueError(f"architecture {name!r}: no 'args' in the checkpoint's config")
    return ARCHITECTURES[name](dict(parsed["args"]))
