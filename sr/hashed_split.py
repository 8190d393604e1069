"""The hashed train/validation split: each item's rank comes from a digest of its key alone, and
items ranked below the validation fraction validate. So the split is the same on every run and
machine, and adding items never moves the others from one side to the other.

Torch-free: ``curator export`` splits a catalog with it, ``sr train`` a plain folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)


def hash_rank(key: bytes, algorithm: str) -> float:
    """A stable number in [0, 1) for ``key``: the first 8 bytes of its digest, big-endian."""
    digest = hashlib.new(algorithm, key).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def validation_items(ranks: Mapping[Key, float], val_fraction: float) -> set[Key]:
    """The items ranked below ``val_fraction``; when that is none of two or more items (and the
    fraction is not 0), the lowest-ranked one, so a tiny set still has something to validate on.
    """
    val = {item for item, rank in ranks.items() if rank < val_fraction}
    if not val and val_fraction > 0 and len(ranks) > 1:
        val = {min(ranks, key=ranks.__getitem__)}  # ties: the first in ``ranks``' order
    return val
