"""Overlap: compute the next item of an iterator in a thread pool while the caller uses this one.

``concurrent.futures`` runs the work; what it lacks is the one-deep pipeline over an iterator
(``Executor.map`` takes every item up front), so this module adds that in a few lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, wait
from typing import TypeVar

T = TypeVar("T")
_END = object()


def ahead(items: Iterator[T], pool: Executor) -> Iterator[T]:
    """``items`` in order, each next one computed in ``pool`` while the caller holds this one.

    The iterator is only ever advanced by one thread at a time. An error in it is raised where
    the caller takes that item. When the caller stops early (an error of its own, or ``close``),
    the one item in flight is finished and dropped, and ``items`` is closed: nothing runs on in
    the background after this generator is done.
    """
    future = pool.submit(next, items, _END)
    try:
        while (item := future.result()) is not _END:
            future = pool.submit(next, items, _END)
            yield item
    finally:
        future.cancel()
        wait([future])
        close = getattr(items, "close", None)
        if close is not None:
            close()
