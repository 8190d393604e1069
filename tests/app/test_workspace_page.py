"""Workspace page: create and open a workspace; counts come from the catalog."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from curator.catalog import summary
from curator.workspace import open_workspace


def _page():
    from curator.studio.feedback import friendly_errors
    from curator.studio.state import init_state
    from curator.studio.workspace_page import render

    init_state()
    with friendly_errors():
        render()


def test_workspace_page__create_then_counts(tmp_path):
    root = tmp_path / "ws"
    at = AppTest.from_function(_page, default_timeout=30).run()
    at.text_input(key="ws_path_input").input(str(root)).run()
    at.button(key="ws_create").click().run()
    assert not at.exception and not at.error
    assert at.session_state["workspace_path"] == str(root)
    assert summary(open_workspace(root))["total"] == 0
    assert [m.value for m in at.metric] == ["0", "0", "0", "0"]


def test_workspace_page__opening_a_non_workspace_is_a_message(tmp_path):
    at = AppTest.from_function(_page, default_timeout=30).run()
    at.text_input(key="ws_path_input").input(str(tmp_path)).run()
    at.button(key="ws_open").click().run()
    assert not at.exception
    assert "not a curator workspace" in at.error[0].value
    assert at.session_state["workspace_path"] == ""


def test_workspace_page__ingest_lists_bad_files_and_keeps_the_rest(tmp_path):
    from tests.app.conftest import noise_image

    folder = tmp_path / "in"
    noise_image(folder / "a.png", (64, 48), seed=1)
    noise_image(folder / "b.jpg", (40, 40), seed=2)
    (folder / "empty.png").write_bytes(b"")
    root = tmp_path / "ws"
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="ws_path_input").input(str(root)).run()
    at.button(key="ws_create").click().run()
    at.text_input(key="ingest_folder").input(str(folder)).run()
    at.button(key="ingest_run").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Added 2 image(s)")
    errors = at.dataframe[-1].value
    assert list(errors["file"].str.endswith("empty.png")) == [True]
    assert summary(open_workspace(root))["total"] == 2
    assert [m.value for m in at.metric][:2] == ["2", "2"]


def test_workspace_page__embed_and_map_places_new_images(tmp_path, monkeypatch):
    from curator.ingest import ingest_paths
    from curator.shared_map import map_points
    from curator.workspace import init_workspace
    from tests.app.conftest import noise_image

    ws = init_workspace(tmp_path / "ws", encoder="efficientnet-lite0")
    for i in range(3):
        noise_image(tmp_path / "in" / f"{i}.png", (64, 64), seed=i)
    ingest_paths(ws, [tmp_path / "in"])
    monkeypatch.setenv("CURATOR_WORKSPACE", str(ws.root))
    at = AppTest.from_function(_page, default_timeout=120).run()
    assert map_points(ws) == []
    at.button(key="ws_embed_map").click().run()
    assert not at.exception and not at.error
    assert at.success[-1].value.startswith("Embedded 3 new image(s)")
    assert sorted(p.id for p in map_points(ws) if p.kind == "image") == [1, 2, 3]


def test_workspace_page__create_with_the_chosen_encoder(tmp_path):
    from curator.config import DEFAULT_CLIP, FALLBACK_ENCODER

    root = tmp_path / "ws"
    at = AppTest.from_function(_page, default_timeout=30).run()
    choice = at.selectbox(key="ws_encoder")
    # tests run with HF_HUB_OFFLINE and no CLIP weights: the offline encoder comes first
    assert choice.value == FALLBACK_ENCODER and DEFAULT_CLIP in choice.options
    at.text_input(key="ws_path_input").input(str(root)).run()
    at.selectbox(key="ws_encoder").select(DEFAULT_CLIP).run()
    at.button(key="ws_create").click().run()
    assert not at.exception and not at.error
    assert open_workspace(root).config.embedding.encoder == DEFAULT_CLIP


def test_workspace_page__switching_to_an_unavailable_encoder_is_a_message(tmp_path, monkeypatch):
    from curator.config import DEFAULT_CLIP, FALLBACK_ENCODER
    from curator.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", encoder=FALLBACK_ENCODER)
    monkeypatch.setenv("CURATOR_WORKSPACE", str(ws.root))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.selectbox(key="ws_switch_encoder").select(DEFAULT_CLIP).run()
    assert "embeds every image again" in at.info[0].value
    at.button(key="ws_embed_map").click().run()
    assert not at.exception
    assert "weights are not on this machine" in at.error[0].value
    assert FALLBACK_ENCODER in at.error[0].value and "curator embed" not in at.error[0].value
    assert open_workspace(ws.root).config.embedding.encoder == FALLBACK_ENCODER


def test_workspace_page__switch_encoder_embeds_every_image_again(tmp_path, monkeypatch):
    import json

    import open_clip

    from curator.config import FALLBACK_ENCODER
    from curator.embeddings import image_embeddings
    from curator.ingest import ingest_paths
    from curator.workspace import init_workspace
    from tests.app.conftest import noise_image
    from tests.curator.conftest import TINY_CLIP

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "curator-tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(tmp_path / "cfg")
    ws = init_workspace(tmp_path / "ws", encoder="open_clip:curator-tiny-clip:none")
    for i in range(3):
        noise_image(tmp_path / "in" / f"{i}.png", (64, 64), seed=i)
    ingest_paths(ws, [tmp_path / "in"])
    monkeypatch.setenv("CURATOR_WORKSPACE", str(ws.root))
    at = AppTest.from_function(_page, default_timeout=120).run()
    at.button(key="ws_embed_map").click().run()
    assert at.success[-1].value.startswith("Embedded 3 new image(s)")
    at.selectbox(key="ws_switch_encoder").select(FALLBACK_ENCODER).run()
    at.button(key="ws_embed_map").click().run()
    assert not at.exception and not at.error
    assert at.success[-1].value.startswith("Embedded 3 new image(s)")
    ws = open_workspace(ws.root)
    assert ws.config.embedding.encoder == FALLBACK_ENCODER
    assert image_embeddings(ws)[1].shape == (3, 1280)


def test_workspace_page__the_url_names_the_open_workspace(tmp_path, monkeypatch):
    from curator.workspace import init_workspace

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    root = tmp_path / "ws"
    at = AppTest.from_function(_page, default_timeout=30).run()
    at.text_input(key="ws_path_input").input(str(root)).run()
    at.button(key="ws_create").click().run()
    assert at.query_params["ws"] == str(root)
    # a reload is a new session with the same URL: the same workspace, not CURATOR_WORKSPACE
    other = init_workspace(tmp_path / "other", encoder="efficientnet-lite0")
    monkeypatch.setenv("CURATOR_WORKSPACE", str(other.root))
    reloaded = AppTest.from_function(_page, default_timeout=30)
    reloaded.query_params["ws"] = str(root)
    reloaded.run()
    assert reloaded.session_state["workspace_path"] == str(root)
    assert any(c.value == f"Open: `{root}`" for c in reloaded.caption)


def test_workspace_page__recent_workspaces_reopen(tmp_path, monkeypatch):
    from curator.recent import remember_workspace
    from curator.workspace import init_workspace

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    first = init_workspace(tmp_path / "first", encoder="efficientnet-lite0").root
    second = init_workspace(tmp_path / "second", encoder="efficientnet-lite0").root
    remember_workspace(first)
    monkeypatch.setenv("CURATOR_WORKSPACE", str(second))
    at = AppTest.from_function(_page, default_timeout=30).run()
    assert at.selectbox(key="ws_recent").options == [str(first)]
    at.button(key="ws_open_recent").click().run()
    assert not at.exception and not at.error
    assert at.session_state["workspace_path"] == str(first)
    assert at.query_params["ws"] == str(first)


def test_workspace_page__uploads_keep_their_names_and_skipped_files_are_said(tmp_path, monkeypatch):
    from curator.catalog import list_images
    from curator.workspace import init_workspace
    from tests.app.conftest import noise_image

    ws = init_workspace(tmp_path / "ws", encoder="efficientnet-lite0")
    monkeypatch.setenv("CURATOR_WORKSPACE", str(ws.root))
    folder = tmp_path / "in"
    noise_image(folder / "a.png", (64, 48), seed=1)
    (folder / "readme.txt").write_text("not a picture")
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="ingest_folder").input(str(folder)).run()
    at.button(key="ingest_run").click().run()
    assert not at.exception
    assert "1 file(s) skipped, not images" in at.info[0].value and "readme.txt" in at.info[0].value
    names = [r.original_name for r in list_images(ws)]
    assert names == [str(folder / "a.png")]
