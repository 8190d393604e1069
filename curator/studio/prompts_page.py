"""Prompts page."""

import streamlit as st


def render() -> None:
    """Draw the Prompts page."""
    st.title("Prompts")
    st.info("This page needs the curator package's prompts API, which has not landed yet.")
