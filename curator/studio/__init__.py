"""The Streamlit studio: one module per page; ``app.py`` only wires them into a navigation."""
