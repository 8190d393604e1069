"""Evaluate page: one row per checkpoint × set × scale, equal to ``sr.evaluate`` on each."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curator.studio.evaluate_page import parse_scales
from sr.evaluate import evaluate_set
from sr.weights import load_model


def _page():
    from curator.studio.evaluate_page import render
    from curator.studio.feedback import friendly_errors
    from curator.studio.state import init_state

    init_state()
    with friendly_errors():
        render()


def test_evaluate_page__table_matches_evaluate_set(tmp_path, tiny_weights, tiny_benchmarks):
    missing = tmp_path / "nope.safetensors"
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="eval_root").input(str(tiny_benchmarks)).run()
    assert at.multiselect(key="eval_sets").options == ["SetA", "SetB"]
    at.multiselect(key="eval_models").set_value([])
    at.text_area(key="eval_extra").input(f"{tiny_weights}\n{missing}")
    at.multiselect(key="eval_sets").set_value(["SetA", "SetB"])
    at.text_input(key="eval_scales").input("2, 3.5").run()
    at.button(key="eval_run").click().run()
    assert not at.exception
    assert "nope.safetensors" in at.error[0].value  # the bad checkpoint is reported …

    rows = at.session_state["eval_results"]  # … and the good one still evaluated
    model = load_model(tiny_weights)
    assert [(r["set"], r["scale"]) for r in rows] == [
        ("SetA", 2.0),
        ("SetA", 3.5),
        ("SetB", 2.0),
        ("SetB", 3.5),
    ]
    for row in rows:
        assert row["checkpoint"] == "tiny.safetensors"
        expected = evaluate_set(model, tiny_benchmarks / row["set"], row["scale"])
        assert row["psnr"] == pytest.approx(expected.psnr, abs=1e-9)
    assert len(at.dataframe) == 1 and at.dataframe[0].value.shape == (2, 2)
    assert at.get("plotly_chart")


def test_parse_scales__accepts_lists_and_rejects_bad_entries():
    assert parse_scales("2, 3 4.5") == [2.0, 3.0, 4.5]
    with pytest.raises(ValueError, match="below 1"):
        parse_scales("0.5")
    with pytest.raises(ValueError, match="'x'"):
        parse_scales("2, x")
