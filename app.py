"""SR curation studio: ``streamlit run app.py``. Pages live in ``curator.studio``; no logic here."""

import streamlit as st

from curator.studio import (
    evaluate_page,
    gallery_page,
    map_page,
    prompts_page,
    train_page,
    upscale_page,
    workspace_page,
)
from curator.studio.feedback import friendly_errors
from curator.studio.state import init_state, sidebar_status, sync_url

st.set_page_config(page_title="SR curation studio", page_icon="🔍", layout="wide")
init_state()

PAGES = [
    st.Page(workspace_page.render, title="Workspace", url_path="workspace", default=True),
    st.Page(map_page.render, title="Map", url_path="map"),
    st.Page(gallery_page.render, title="Gallery", url_path="gallery"),
    st.Page(prompts_page.render, title="Prompts", url_path="prompts"),
    st.Page(train_page.render, title="Train", url_path="train"),
    st.Page(upscale_page.render, title="Upscale", url_path="upscale"),
    st.Page(evaluate_page.render, title="Evaluate", url_path="evaluate"),
]

page = st.navigation(PAGES)
sync_url()
sidebar_status()
with friendly_errors():
    page.run()
