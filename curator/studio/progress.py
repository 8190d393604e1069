"""Long jobs on a page: a progress bar with elapsed time and an ETA, and a Cancel button.

Streamlit stops a running script at its next page update when the user clicks a widget or when
the session's connection drops (the tab is closed, but also a network cut or a laptop going to
sleep): a bar that is updated after every block of work (a block of output pixels, an image, a
denoising step) is therefore also what lets a job be cancelled and what stops it with its
session. Work between two updates runs to its end: the map fit after embedding (seconds to
minutes) cannot be cancelled half-way. The stop arrives as Streamlit's own exception, a
BaseException that no ``except Exception`` swallows, so ``with`` blocks and temporary folders
unwind: nothing half-written is kept, and what a job had already committed (an ingested or
generated image) stays.
"""

from __future__ import annotations

import time

import streamlit as st

from curator.progress import count_text, eta_text


def _cancelled(message: str) -> None:
    # An on_click callback runs before the rerun that the click starts; the click itself has
    # already stopped the job at its next bar update.
    st.toast(message, icon="⏹️")


class JobProgress:
    """A bar and a Cancel button; call it with ``(done, total)`` after every block of work."""

    def __init__(self, label: str, key: str, cancelled: str = "") -> None:
        self.label = label
        self.started = time.monotonic()
        self._bar = st.progress(0.0, text=f"{label}…")
        self._cancel = st.empty()
        self._cancel.button(
            "Cancel",
            key=f"cancel_{key}",
            on_click=_cancelled,
            args=(cancelled or f"{label} cancelled.",),
        )

    def __call__(self, done=None, total=None, *_args, **_kwargs) -> None:
        """Show ``done`` of ``total`` (the curator's callbacks); a message only relabels."""
        elapsed = time.monotonic() - self.started
        if isinstance(done, int | float) and isinstance(total, int | float) and total:
            text = f"{self.label} {count_text(done, total)} · {eta_text(done, total, elapsed)}"
            self._bar.progress(min(1.0, max(0.0, done / total)), text=text)
        elif done is not None:
            self._bar.progress(0.0, text=f"{self.label} {done}")

    def close(self) -> None:
        """Remove the bar and the button (the job is done)."""
        self._bar.empty()
        self._cancel.empty()
