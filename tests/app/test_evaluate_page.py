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


def test_evaluate_page__own_folder_and_lineage(tmp_path, tiny_weights, tiny_benchmarks):
    import json
    import shutil

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(tiny_weights, run / "checkpoints" / "best.safetensors")
    lineage = {
        "workspace": "/ws",
        "last_event_id": 9,
        "accepted": 5,
        "accepted_ids_sha256": "c0ffee" * 10,
        "rejection_reasons": {"blurry": 2},
    }
    (run / "run.json").write_text(json.dumps({"data": "/exp", "data_lineage": lineage}))
    folder = tiny_benchmarks / "SetA" / "HR"  # a plain folder of HR images
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="eval_root").input(str(tiny_benchmarks)).run()
    at.multiselect(key="eval_models").set_value([])
    at.text_area(key="eval_extra").input(str(run))
    at.multiselect(key="eval_sets").set_value([])
    at.text_area(key="eval_folders").input(str(folder))
    at.text_input(key="eval_scales").input("2").run()
    at.button(key="eval_run").click().run()
    assert not at.exception
    (row,) = at.session_state["eval_results"]
    expected = evaluate_set(load_model(run), folder, 2.0)
    assert row["set"] == "HR" and row["psnr"] == pytest.approx(expected.psnr, abs=1e-9)
    (expander,) = at.expander
    text = " ".join(m.value for m in expander.markdown)
    assert "event #9" in text and "5 accepted" in text and "blurry" in text
