"""app.py: navigation, session defaults, and errors shown as messages, never as traces."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP


def test_app__opens_on_workspace_page_with_all_pages_in_navigation():
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Workspace"
    assert at.session_state["map_selection"] == []


def test_app__workspace_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CURATOR_WORKSPACE", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert at.session_state["workspace_path"] == str(tmp_path)


def _page_that_fails_with_missing_weights():
    from curator.studio.feedback import friendly_errors
    from sr.weights import load_model

    with friendly_errors():
        load_model("official")


def _page_that_fails_unexpectedly():
    from curator.studio.feedback import friendly_errors

    with friendly_errors():
        raise KeyError("boom")


def test_friendly_errors__missing_weights_names_model_and_remedy(monkeypatch, tmp_path):
    monkeypatch.setenv("SR_LIIF_WEIGHTS", str(tmp_path / "absent.safetensors"))
    at = AppTest.from_function(_page_that_fails_with_missing_weights).run()
    assert not at.exception
    message = at.error[0].value
    assert "LIIF" in message and "sr weights fetch" in message and "SR_LIIF_WEIGHTS" in message
    assert "absent.safetensors" in message


def test_friendly_errors__unexpected_error_is_one_line_not_a_trace():
    at = AppTest.from_function(_page_that_fails_unexpectedly).run()
    assert not at.exception
    assert "KeyError" in at.error[0].value and "Traceback" not in at.error[0].value
