"""Atomic file writes: a temp file in the target's folder, fsynced, then renamed over the target.

A reader sees the old file or the new one, never half of one; a failure (disk full, kill -9
aside) removes the temp file, so nothing half-written is left behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

TEMP_PREFIX = ".incoming-"  # temp files of interrupted writes start with this (sweeps know it)


@contextlib.contextmanager
def temp_file(folder: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """An empty temp file in ``folder`` (named so sweeps know it), removed on exit unless
    ``publish`` renamed it away first."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def publish(tmp: Path, target: Path) -> None:
    """Put a finished temp file in place: fsynced first (a crash then leaves the old file or the
    whole new one), given the usual mode (mkstemp's is private), renamed over ``target``."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(tmp, default_mode())
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """A temp path beside ``target``; written by the caller, fsynced and renamed on success."""
    target = Path(target)
    with temp_file(target.parent, suffix=suffix) as tmp:
        yield tmp
        publish(tmp, target)


def write_atomic(target: str | Path, pieces: bytes | Iterable[bytes | memoryview]) -> Path:
    """Write ``pieces`` (bytes, or chunks written one after another) atomically to ``target``."""
    target = Path(target)
    chunks = [pieces] if isinstance(pieces, bytes | bytearray | memoryview) else pieces
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    return target


def default_mode(*, folder: bool = False) -> int:
    """The mode a plain ``open``/``mkdir`` would give (mkstemp/mkdtemp make private ones)."""
    return (0o777 if folder else 0o666) & ~_umask()


def _umask() -> int:
    """The process umask (mkstemp makes 0600 files; finished files get the usual mode).

    Read from /proc where it can be: setting and restoring it would race with other threads.
    """
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
