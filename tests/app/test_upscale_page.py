"""Upscale page: the result equals the CLI's upscale of the same file, in the input's format."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from sr.image_files import read_image
from sr.upscale import Target, upscale_file
from sr.weights import load_model
from tests.app.conftest import noise_image


def _page():
    from curator.studio.feedback import friendly_errors
    from curator.studio.state import init_state
    from curator.studio.upscale_page import render

    init_state()
    with friendly_errors():
        render()


def _with_custom_weights(at: AppTest, weights) -> AppTest:
    at.selectbox(key="upscale_model").select("Other file or run folder…").run()
    at.text_input(key="upscale_model_path").input(str(weights))
    return at


def _upscale_path(src, weights, scale: str | None = None) -> AppTest:
    """Upscale the file ``src`` on the page with ``weights``; the run must show no error."""
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="upscale_path").input(str(src))
    if scale is not None:
        at.text_input(key="upscale_scale").input(scale)
    _with_custom_weights(at, weights).run()
    at.button(key="upscale_run").click().run()
    assert not at.exception and not at.error
    return at


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_upscale_page__scale_matches_cli_output_and_keeps_format(tmp_path, tiny_weights, suffix):
    src = noise_image(tmp_path / f"in{suffix}", (20, 14))
    at = _upscale_path(src, tiny_weights, "2.5")

    result = at.session_state["upscale_result"]
    expected = upscale_file(
        load_model(tiny_weights), src, tmp_path / f"cli{suffix}", Target(scale=(2.5, 2.5))
    )
    assert expected == []
    got = Image.open(io.BytesIO(result["data"]))
    assert got.format == Image.open(src).format
    assert got.size == (50, 35)
    np.testing.assert_array_equal(np.asarray(got), read_image(tmp_path / f"cli{suffix}").pixels)
    bicubic = np.asarray(Image.open(src).convert("RGB").resize((50, 35), Image.BICUBIC))
    np.testing.assert_array_equal(result["bicubic"], bicubic)
    assert result["name"].endswith(suffix)


def test_upscale_page__exact_size(tmp_path, tiny_weights):
    src = noise_image(tmp_path / "in.png", (20, 14))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="upscale_path").input(str(src))
    at.radio(key="upscale_mode").set_value("Exact size").run()
    at.text_input(key="upscale_size").input("33x21")
    _with_custom_weights(at, tiny_weights).run()
    at.button(key="upscale_run").click().run()
    assert not at.exception
    assert Image.open(io.BytesIO(at.session_state["upscale_result"]["data"])).size == (33, 21)


def test_upscale_page__missing_official_weights_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_LIIF_WEIGHTS", str(tmp_path / "missing.safetensors"))
    src = noise_image(tmp_path / "in.png", (8, 8))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="upscale_path").input(str(src)).run()
    at.button(key="upscale_run").click().run()
    assert not at.exception
    assert "sr weights fetch" in at.error[0].value
    assert at.session_state["upscale_result"] is None


def test_upscale_page__bad_scale_and_bad_file_are_messages(tmp_path, tiny_weights):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="upscale_scale").input("0.5x").run()
    assert "invalid scale" in at.error[0].value
    at.text_input(key="upscale_scale").input("2")
    at.text_input(key="upscale_path").input(str(bad))
    _with_custom_weights(at, tiny_weights).run()
    assert not at.exception  # said as soon as the path is typed, and nothing to start
    assert "broken.png" in at.error[0].value and "not an image" in at.error[0].value
    assert at.button(key="upscale_run").disabled


def test_upscale_page__workspace_image_by_id(mapped_ws, tiny_weights):
    from curator.catalog import list_images
    from curator.store import image_path

    record = list_images(mapped_ws)[0]
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.number_input(key="upscale_image_id").set_value(record.id)
    _with_custom_weights(at, tiny_weights).run()
    at.button(key="upscale_run").click().run()
    assert not at.exception and not at.error
    result = at.session_state["upscale_result"]
    assert result["in_hw"] == (record.height, record.width)
    assert result["out_hw"] == (2 * record.height, 2 * record.width)
    assert result["name"].startswith(image_path(mapped_ws, record).stem)


def test_upscale_page__unknown_image_id_is_a_message_and_the_form_stays(mapped_ws):
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.number_input(key="upscale_image_id").set_value(999).run()
    assert not at.exception
    assert at.error[0].value == "There is no image #999 in this workspace."
    assert at.button(key="upscale_run") is not None and at.text_input(key="upscale_scale")


def test_upscale_page__download_keeps_icc_profile_and_exif(tmp_path, tiny_weights):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010E] = "a test picture"  # ImageDescription
    src = tmp_path / "meta.jpg"
    Image.open(noise_image(tmp_path / "base.png", (16, 12))).save(
        src, icc_profile=icc, exif=exif.tobytes()
    )
    at = _upscale_path(src, tiny_weights)
    got = Image.open(io.BytesIO(at.session_state["upscale_result"]["data"]))
    assert got.format == "JPEG" and got.info.get("icc_profile") == icc
    assert got.getexif().get(0x010E) == "a test picture"


def test_upscale_page__says_what_the_output_cannot_keep(tmp_path, tiny_weights):
    frames = [Image.new("RGB", (16, 12), color) for color in ("red", "blue")]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    at = _upscale_path(src, tiny_weights, "2")
    notes = [element.value for element in at.info]
    assert any("anim.gif" in n and "2 frames" in n and "first frame" in n for n in notes), notes


def test_upscale_page__decodes_the_input_once(tmp_path, tiny_weights, monkeypatch):
    import curator.studio.upscale_page
    import sr.upscale

    src = noise_image(tmp_path / "in.png", (20, 14))
    decoded = []

    def counting(module):
        real = module.read_image
        monkeypatch.setattr(module, "read_image", lambda p: decoded.append(p) or real(p))

    counting(curator.studio.upscale_page)
    counting(sr.upscale)
    at = _upscale_path(src, tiny_weights, "2")
    assert [p for p in decoded if p == src] == [src]
    assert at.session_state["upscale_result"]["out_hw"] == (28, 40)


def test_upscale_page__very_large_output_waits_for_a_tick(tmp_path, tiny_weights, monkeypatch):
    from curator.studio import upscale_page

    monkeypatch.setattr(upscale_page, "CONFIRM_PIXELS", 1000)  # 50×35 = 1750 pixels is "large"
    src = noise_image(tmp_path / "in.png", (20, 14))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="upscale_path").input(str(src))
    at.text_input(key="upscale_scale").input("2.5")
    _with_custom_weights(at, tiny_weights).run()
    assert "50×35" in at.warning[0].value and at.button(key="upscale_run").disabled
    at.checkbox(key="upscale_ok_50x35").check().run()
    assert not at.button(key="upscale_run").disabled
    at.button(key="upscale_run").click().run()
    assert not at.exception and at.session_state["upscale_result"]["out_hw"] == (35, 50)
    at.text_input(key="upscale_scale").input("3").run()  # a new size asks again
    assert "60×42" in at.warning[0].value and at.button(key="upscale_run").disabled


def test_upscale_page__bf16_matches_the_cli_in_bf16(tmp_path, tiny_weights, monkeypatch):
    # The choice shows only where the CPU runs bf16 fast; let it show on any CPU.
    monkeypatch.setattr("curator.studio.models.cpu_has_bf16", lambda: True)
    monkeypatch.setattr("sr.precision.cpu_has_bf16", lambda: True)
    src = noise_image(tmp_path / "in.png", (20, 14))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.text_input(key="upscale_path").input(str(src))
    at.text_input(key="upscale_scale").input("3")
    at.radio(key="upscale_precision").set_value("bf16")
    _with_custom_weights(at, tiny_weights).run()
    at.button(key="upscale_run").click().run()
    assert not at.exception and not at.error
    result = at.session_state["upscale_result"]
    assert result["model"].endswith(", bf16")
    model = load_model(tiny_weights, precision="bf16")
    assert upscale_file(model, src, tmp_path / "cli.png", Target(scale=(3.0, 3.0))) == []
    got = np.asarray(Image.open(io.BytesIO(result["data"])))
    np.testing.assert_array_equal(got, read_image(tmp_path / "cli.png").pixels)
    fp32 = tmp_path / "fp32.png"
    upscale_file(load_model(tiny_weights), src, fp32, Target(scale=(3.0, 3.0)))
    assert not np.array_equal(got, read_image(fp32).pixels)  # bf16 really ran
