"""Fault fixtures shared by the bad-input tests: real read-only folders (also as root)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` made truly read-only: a read-only bind mount as root, permissions otherwise.

    Yields the path to use (the mount point as root, ``folder`` itself otherwise).
    """
    if os.geteuid() == 0:  # root ignores permissions; a read-only mount stops it too
        view = folder.with_name(folder.name + "-ro")
        view.mkdir()
        subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
            yield view
        finally:
            # lazy: a handle the code under test still caches must not fail the test
            subprocess.run(["umount", "--lazy", str(view)], check=True)
            view.rmdir()
    else:
        paths = [folder, *folder.rglob("*")]
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        try:
            yield folder
        finally:
            for p in reversed(paths):
                p.chmod(modes[p])
