"""Train page."""

import streamlit as st


def render() -> None:
    """Draw the Train page."""
    st.title("Train")
    st.info("This page needs the curator package's train API, which has not landed yet.")
