"""A Streamlit progress bar behind the curator's ``progress`` callbacks."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def progress_callback(label: str) -> tuple[Callable[..., None], Callable[[], None]]:
    """(callback, close); the callback takes ``(done, total)`` or a message/fraction."""
    bar = st.progress(0.0, text=label)

    def update(done=None, total=None, *_args, **_kwargs) -> None:
        # The curator calls back with (done, total); anything else only refreshes the label.
        if isinstance(done, int | float) and isinstance(total, int | float) and total:
            bar.progress(min(1.0, done / total), text=f"{label} {int(done)}/{int(total)}")
        elif isinstance(done, float) and 0 <= done <= 1:
            bar.progress(done, text=label)
        elif done is not None:
            bar.progress(0.0, text=f"{label} {done}")

    return update, bar.empty
