"""Workspace page."""

import streamlit as st


def render() -> None:
    """Draw the Workspace page."""
    st.title("Workspace")
    st.info("This page needs the curator package's workspace API, which has not landed yet.")
