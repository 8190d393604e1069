"""Map page."""

import streamlit as st


def render() -> None:
    """Draw the Map page."""
    st.title("Map")
    st.info("This page needs the curator package's map API, which has not landed yet.")
