"""The error boundary of both command lines: every expected failure becomes one line and a code.

Exit codes (the same for ``sr`` and ``curator``, listed in the README):

- 0: done;
- 1: a batch finished, but some of its items failed (each one named on its own line);
- 2: the request cannot be carried out (bad option, bad or missing input, corrupt file);
- 3: the machine refused (disk full, permission denied, read-only, out of memory);
- 130: interrupted (Ctrl-C); finished items are kept;
- 141: the reader of the output went away (``… | head``).

Anything else is a bug and keeps its traceback, so it can be reported.
"""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141

_REASONS = {
    errno.ENOSPC: "disk full (no space left on device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ELOOP: "too many levels of symbolic links (a link loop?)",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EEXIST: "already exists",
}


def display_path(path: str | Path) -> str:
    """A path as one printable line: undecodable bytes and control characters escaped."""
    return one_line(os.fsencode(path).decode("utf-8", errors="backslashreplace"))


def os_error_line(exc: OSError) -> str:
    """``FILE: reason`` for an OSError (the file as the OS named it, the reason in words)."""
    reason = _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    shown = " -> ".join(display_path(n) for n in names)
    return f"{shown}: {reason}" if shown else reason


def is_environment_error(exc: OSError) -> bool:
    """Whether the machine refused (space, permission, read-only) rather than the input."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS)


def fail(message: str) -> None:
    """Print one ``error: …`` line to stderr (line breaks in it, e.g. from a file name, escaped)."""
    print(f"error: {one_line(message)}", file=sys.stderr)


def one_line(text: str) -> str:
    """``text`` with control characters escaped, so it stays one line."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def run_command(
    handler: Callable[[argparse.Namespace], int],
    args: argparse.Namespace,
    user_errors: tuple[type[BaseException], ...],
) -> int:
    """Run one CLI command; expected failures become one ``error:`` line and an exit code."""
    try:
        return handler(args)
    except BrokenPipeError:  # the reader closed early (`curator list WS | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted: finished items are saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except user_errors as exc:
        fail(str(exc))
        return EXIT_BAD_INPUT
    except MemoryError:
        fail("out of memory (try smaller work sizes, e.g. --tile, --chunk or --batch-size)")
        return EXIT_ENVIRONMENT
    except OSError as exc:
        fail(os_error_line(exc))
        return EXIT_ENVIRONMENT if is_environment_error(exc) else EXIT_BAD_INPUT
    except sqlite3.DatabaseError as exc:
        fail(f"catalog database: {exc}")
        return EXIT_ENVIRONMENT if "readonly" in str(exc) or "full" in str(exc) else EXIT_BAD_INPUT
