"""Prompts page: add, edit as a new linked version, generate a round onto the map."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from curator.catalog import list_images
from curator.prompts import add_prompt, list_prompts, prompt_stats
from curator.shared_map import map_points


def _page():
    from curator.studio.feedback import friendly_errors
    from curator.studio.prompts_page import render
    from curator.studio.state import init_state

    init_state()
    with friendly_errors():
        render()


def test_prompts_page__add_then_edit_makes_a_linked_version(small_ws):
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert "No prompts yet" in at.info[0].value
    at.text_area(key="prompt_new_text").input("a red  bicycle").run()
    at.button(key="prompt_add").click().run()
    assert not at.exception
    (first,) = list_prompts(small_ws)
    assert first.text == "a red bicycle" and first.parent_id is None

    at.text_area(key="prompt_edit_text").input("a red bicycle, sharp focus")
    at.text_input(key="prompt_edit_negative").input("blur")
    at.button(key="prompt_save").click().run()
    assert not at.exception and not at.error
    second = list_prompts(small_ws)[-1]
    assert (second.text, second.negative, second.parent_id) == (
        "a red bicycle, sharp focus", "blur", first.id,
    )  # fmt: skip
    assert at.selectbox(key="prompt_pick").value == second.id
    assert at.caption[0].value == f"Lineage: #{first.id} → #{second.id}"


def test_prompts_page__refinement_without_clip_is_a_message(small_ws):
    pid = add_prompt(small_ws, "a cat")
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.button(key="prompt_suggest").click().run()
    assert not at.exception
    assert "CLIP" in at.error[0].value and f"#{pid}" in at.error[0].value
    # the manual editor is still there: a refinement can be written by hand
    at.text_area(key="prompt_edit_text").input("a cat, sharp focus")
    at.button(key="prompt_save").click().run()
    assert not at.exception
    assert [p.text for p in list_prompts(small_ws)] == ["a cat", "a cat, sharp focus"]


def test_prompts_page__table_of_all_prompts_and_strength_only_for_img2img(small_ws):
    add_prompt(small_ws, "a cat")
    add_prompt(small_ws, "a rocket")
    at = AppTest.from_function(_page, default_timeout=60).run()
    table = at.dataframe[0].value
    assert list(table["text"]) == ["a cat", "a rocket"] and list(table["images"]) == [0, 0]
    assert not [s for s in at.slider if s.key == "gen_strength"]
    at.radio(key="gen_mode").set_value("img2img").run()
    assert [s for s in at.slider if s.key == "gen_strength"]


def test_prompts_page__generate_round_lands_on_map(small_ws, tiny_diffusion_dir):
    pid = add_prompt(small_ws, "a lighthouse at dusk")
    before = {(p.id, p.x, p.y) for p in map_points(small_ws) if p.kind == "image"}
    at = AppTest.from_function(_page, default_timeout=120).run()
    at.text_input(key="gen_model").input(str(tiny_diffusion_dir))
    at.number_input(key="gen_count").set_value(2)
    at.number_input(key="gen_steps").set_value(2)
    at.number_input(key="gen_width").set_value(32)
    at.number_input(key="gen_height").set_value(32)
    at.button(key="gen_run").click().run()
    assert not at.exception and not at.error
    new = list_images(small_ws, prompt_id=pid)
    assert (
        len(new) == 2 and {r.source for r in new} == {"generated"} and {r.round for r in new} == {1}
    )
    assert prompt_stats(small_ws, pid).total == 2
    on_map = {p.id for p in map_points(small_ws) if p.kind == "image"}
    assert {r.id for r in new} <= on_map
    assert before <= {(p.id, p.x, p.y) for p in map_points(small_ws) if p.kind == "image"}
