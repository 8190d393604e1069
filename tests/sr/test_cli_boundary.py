"""The shared CLI error boundary: one line per failure, the documented exit codes."""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3

import pytest

from sr.cli_boundary import display_path, os_error_line, run_command
from sr.options import float_option, int_option


def _run(exc: BaseException, capsys) -> tuple[int, list[str]]:
    def handler(args: argparse.Namespace) -> int:
        raise exc

    code = run_command(handler, argparse.Namespace(), user_errors=(LookupError,))
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "out.png"), 3, "out.png: disk full"),
        (OSError(errno.EROFS, "Read-only file system", "ws"), 3, "ws: read-only file system"),
        (OSError(errno.EACCES, "Permission denied", "x"), 3, "x: permission denied"),
        (OSError(errno.ELOOP, "Too many levels", "loop"), 2, "loop: too many levels of symbolic"),
        (OSError(errno.ENOENT, "No such file", "gone.png"), 2, "gone.png: no such file"),
        (LookupError("bad input named here"), 2, "bad input named here"),
        (MemoryError(), 3, "out of memory"),
        (sqlite3.OperationalError("database or disk is full"), 3, "database or disk is full"),
        (sqlite3.DatabaseError("file is not a database"), 2, "file is not a database"),
    ],
)
def test_run_command__one_line_and_exit_code(exc, code, text, capsys) -> None:
    got, lines = _run(exc, capsys)
    assert got == code and len(lines) == 1 and lines[0].startswith("error: ")
    assert text in lines[0]


def test_run_command__interrupt_and_bugs(capsys) -> None:
    assert _run(KeyboardInterrupt(), capsys)[0] == 130
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        _run(ZeroDivisionError(), capsys)


def test_display_path__escapes_undecodable_bytes_and_control_characters() -> None:
    raw = os.fsdecode(b"bad\xff\nname.png")
    assert display_path(raw) == "bad\\xff\\x0aname.png"
    assert os_error_line(OSError(errno.ENOSPC, "x", raw)).startswith("bad\\xff\\x0aname.png: ")


@pytest.mark.parametrize(
    ("parse", "text", "ok"),
    [
        (int_option(1), "5", 5),
        (int_option(1), "0", None),
        (int_option(1), "-5", None),
        (int_option(1), "abc", None),
        (int_option(1, 10), "11", None),
        (float_option(1, 64), "nan", None),
        (float_option(1, 64), "inf", None),
        (float_option(1, 64), "1e9", None),
        (float_option(1, 64), "3.5", 3.5),
        (float_option(0, 1, above=True), "0", None),
        (float_option(0, 1, above=True), "1", 1.0),
    ],
)
def test_options__finite_and_within_limits(parse, text, ok) -> None:
    if ok is None:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)
    else:
        assert parse(text) == ok


def test_fail__a_line_break_in_a_name_stays_one_line(capsys) -> None:
    from sr.cli_boundary import fail

    fail("bad\nname.png: not an image")
    assert capsys.readouterr().err == "error: bad\\x0aname.png: not an image\n"


@pytest.mark.parametrize("device", ["gpu0", "cuda:99"])
def test_sr_device__unknown_or_absent_is_one_line(device, capsys) -> None:
    from sr.cli import main

    with pytest.raises(SystemExit) as done:
        main(["eval", "x", "--scale", "2", "--device", device])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and "argument --device" in err[-1]
