"""The studio's job progress text: counts, elapsed time and a straightforward ETA."""

from __future__ import annotations

from curator.progress import clock, count_text, eta_text


def test_clock__minutes_and_hours():
    assert clock(0) == "0:00" and clock(65.4) == "1:05" and clock(3600 + 62) == "1:01:02"


def test_eta_text__rest_at_the_speed_so_far():
    # a quarter done in 30 s: three quarters more take 90 s
    assert eta_text(25, 100, 30.0) == "0:30 elapsed · about 1:30 left"
    assert eta_text(1, 1000, 30.0) == "0:30 elapsed"  # under 2 %: no estimate yet
    assert eta_text(50, 100, 1.0) == "0:01 elapsed"  # under 2 s: no estimate yet
    assert eta_text(100, 100, 42.0) == "0:42 elapsed"  # done: nothing left to estimate


def test_count_text__counts_or_percent():
    assert count_text(3, 40) == "3/40"
    assert count_text(1.5, 4) == "1/4"  # half-way through the second image: one is done
    assert count_text(2_000_000, 16_000_000) == "12 %"
