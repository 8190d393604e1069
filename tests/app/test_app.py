"""app.py: navigation, session defaults, and errors shown as messages, never as traces."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP

# every page app.py registers, in navigation order (the first is the default, served at /)
PAGES = ["Workspace", "Map", "Gallery", "Prompts", "Train", "Upscale", "Evaluate"]


def _open_page(at: AppTest, title: str) -> AppTest:
    """Run the page registered as ``title``.

    ``AppTest.switch_page`` only takes page files; app.py's pages are functions, so the page is
    picked as a browser URL picks it: by the script hash that ``st.navigation`` registered.
    """
    (page_hash,) = [h for h, info in at._registered_pages.items() if info["page_name"] == title]
    at._page_hash = page_hash
    return at.run()


def test_app__opens_on_workspace_page_with_all_pages_in_navigation():
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Workspace"
    assert at.session_state["map_selection"] == []
    assert [info["page_name"] for info in at._registered_pages.values()] == PAGES


def test_app__every_page_renders_without_error(
    mapped_ws, tiny_benchmarks, tiny_weights, monkeypatch
):
    monkeypatch.setenv("SR_BENCHMARKS", str(tiny_benchmarks))
    monkeypatch.setenv("SR_LIIF_WEIGHTS", str(tiny_weights))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert at.session_state["workspace_path"] == str(mapped_ws.root)
    for title in [*PAGES[1:], PAGES[0]]:  # the default page last: reached again from another
        _open_page(at, title)
        assert not at.exception, title
        assert not at.error, (title, [e.value for e in at.error])
        assert [t.value for t in at.title] == [title]


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
