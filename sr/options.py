"""Numeric command-line options, validated in one place for both CLIs (``sr`` and ``curator``).

Each factory returns an argparse ``type=`` callable: a bad value ends the command before any work
with argparse's one-line ``error: argument --tile: …`` and exit code 2, never an image of garbage
or a silently ignored option. Values are finite and within the stated limits.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _describe(minimum: float | None, maximum: float | None, *, above: bool = False) -> str:
    low = "" if minimum is None else (f"> {minimum:g}" if above else f"≥ {minimum:g}")
    high = "" if maximum is None else f"≤ {maximum:g}"
    return " and ".join(part for part in (low, high) if part)


def check_range(
    value: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: bool = False,
) -> str | None:
    """Why ``value`` is out of range (finite, ≥/> ``minimum``, ≤ ``maximum``), or None if fine."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    too_low = minimum is not None and (value <= minimum if above else value < minimum)
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        return f"must be {_describe(minimum, maximum, above=above)}"
    return None


def int_option(
    minimum: int | None = None, maximum: int | None = None
) -> Callable[[str], int]:  # fmt: skip
    """An argparse type: a whole number within [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        problem = check_range(value, minimum=minimum, maximum=maximum)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def float_option(
    minimum: float | None = None, maximum: float | None = None, *, above: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number ≥ (or > with ``above``) ``minimum`` and ≤ ``maximum``."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        problem = check_range(value, minimum=minimum, maximum=maximum, above=above)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


INT64_MAX = 2**63 - 1  # SQLite's and torch's seeds' largest integer
positive_int = int_option(minimum=1, maximum=INT64_MAX)
non_negative_int = int_option(minimum=0, maximum=INT64_MAX)
