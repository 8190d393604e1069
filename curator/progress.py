"""Progress of long jobs: a tqdm bar for the CLI, and the elapsed/ETA text the studio shows."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from tqdm import tqdm

# What long API functions call back with: work done (a fraction while one item is in progress),
# and the total.
Progress = Callable[[float, int], None]


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a callback that drives one tqdm bar on stderr."""
    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit="img", file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


# Before this much of the work (or this many seconds) an ETA is mostly noise; none is shown.
MIN_FRACTION_FOR_ETA = 0.02
MIN_SECONDS_FOR_ETA = 2.0


def clock(seconds: float) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` above."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta_text(done: float, total: float, elapsed: float) -> str:
    """``0:12 elapsed · about 1:05 left``, assuming the rest goes at the speed so far."""
    text = f"{clock(elapsed)} elapsed"
    fraction = done / total if total else 0.0
    if 0 < fraction < 1 and fraction >= MIN_FRACTION_FOR_ETA and elapsed >= MIN_SECONDS_FOR_ETA:
        text += f" · about {clock(elapsed * (1 - fraction) / fraction)} left"
    return text


def count_text(done: float, total: float) -> str:
    """``3/40`` items finished (a fraction in progress counts as not yet), or a percentage when
    the units are many (pixels)."""
    if total <= 10_000:
        return f"{int(done)}/{int(total)}"
    return f"{100 * done / total:.0f} %"
