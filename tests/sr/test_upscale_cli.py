"""``sr upscale`` end to end: sizes, formats, metadata and bad inputs in a batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sr.cli import main
from sr.image_files import ImageData, read_image, write_image
from sr.inference import TileSettings, upscale_tensor
from sr.upscale import (
    Target,
    UpscaleError,
    output_size,
    parse_scale,
    parse_size,
    resize_alpha_rows,
    upscale_file,
    upscale_image,
)
from tests.sr.helpers import official_model, smooth_photo, tiny_model


def test_output_size__scales_sizes_and_refusals():
    assert output_size((10, 20), Target(scale=(1.7, 1.7))) == (17, 34)
    assert output_size((10, 20), Target(scale=(2.0, 3.0))) == (30, 40)
    assert output_size((10, 20), Target(size=(50, 0))) == (25, 50)
    assert output_size((10, 20), Target(size=(21, 13))) == (13, 21)
    with pytest.raises(UpscaleError, match="below 1"):
        output_size((10, 20), Target(scale=(0.5, 0.5)))
    with pytest.raises(UpscaleError, match="smaller than the input"):
        output_size((10, 20), Target(size=(19, 10)))
    with pytest.raises(UpscaleError, match="exceeds the limit"):
        output_size((10_000, 10_000), Target(scale=(30.0, 30.0)))
    assert parse_scale("2x1.5") == (2.0, 1.5) and parse_size("1920x1080") == (1920, 1080)
    with pytest.raises(UpscaleError):
        parse_scale("big")


def test_upscale__single_file_matches_model_output(tmp_path):
    arr = smooth_photo(24, 30)
    Image.fromarray(arr).save(tmp_path / "in.png")
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "in.png"),
                "-o",
                str(tmp_path / "out.png"),
                "--scale",
                "2.5",
                "--quiet",
            ]
        )
        == 0
    )
    out = read_image(tmp_path / "out.png")
    assert out.pixels.shape == (60, 75, 3)
    expected = upscale_tensor(
        official_model(), torch.from_numpy(arr).permute(2, 0, 1) / 255, (60, 75)
    )
    expected = expected.clamp(0, 1).mul(255).round().permute(1, 2, 0).numpy()
    assert np.abs(out.pixels.astype(float) - expected).max() <= 1


def test_upscale__folder_keeps_alpha_gray_and_sixteen_bits(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rgba = np.dstack(
        [smooth_photo(16, 20), np.tile(np.linspace(0, 255, 20, dtype=np.uint8), (16, 1))]
    )
    Image.fromarray(rgba, "RGBA").save(src / "rgba.png")
    Image.fromarray(smooth_photo(16, 20)[:, :, 0], "L").save(src / "gray.png")
    Image.fromarray(smooth_photo(16, 20)[:, :, 0].astype(np.uint16) * 257).save(src / "g16.png")
    Image.fromarray(smooth_photo(16, 20)).save(src / "photo.jpg", quality=95)
    (src / "notes.txt").write_text("ignored: not an image extension")
    assert (
        main(["upscale", str(src), "-o", str(tmp_path / "out"), "--size", "40x32", "--quiet"]) == 0
    )
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["g16.png", "gray.png", "photo.jpg", "rgba.png"]
    up_rgba = read_image(out / "rgba.png")
    assert up_rgba.pixels.shape == (32, 40, 3) and up_rgba.alpha.shape == (32, 40)
    assert up_rgba.alpha[:, 0].mean() < 20 and up_rgba.alpha[:, -1].mean() > 235  # gradient kept
    assert read_image(out / "gray.png").pixels.shape == (32, 40, 1)
    g16 = read_image(out / "g16.png")
    assert g16.bit_depth == 16 and g16.pixels.shape == (32, 40, 1)
    assert (g16.pixels % 257 != 0).any()  # real 16-bit output, not 8-bit values scaled up
    assert read_image(out / "photo.jpg").format == "JPEG"


def test_upscale__format_option_changes_extension(tmp_path):
    Image.fromarray(smooth_photo(10, 12)).save(tmp_path / "a.png")
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "a.png"),
                "-o",
                str(tmp_path / "o"),
                "--scale",
                "2",
                "--format",
                "webp",
                "--quiet",
            ]
        )
        == 0
    )
    assert read_image(tmp_path / "o" / "a.webp").format == "WEBP"


def test_upscale__bad_inputs_reported_batch_goes_on(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth_photo(12, 12)).save(src / "good.png")
    (src / "empty.png").write_bytes(b"")
    (src / "fake.jpg").write_bytes(b"definitely not a jpeg")
    good = (src / "good.png").read_bytes()
    (src / "trunc.png").write_bytes(good[: len(good) // 2])
    code = main(["upscale", str(src), "-o", str(tmp_path / "out"), "--scale", "2", "--quiet"])
    assert code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    for name, reason in [
        ("empty.png", "empty"),
        ("fake.jpg", "not an image"),
        ("trunc.png", "truncated"),
    ]:
        assert any(name in line and reason in line for line in errors), errors
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.png"]


def test_upscale__scale_below_one_and_absurd_size_fail_per_file(tmp_path, capsys):
    Image.fromarray(smooth_photo(12, 12)).save(tmp_path / "a.png")
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "a.png"),
                "-o",
                str(tmp_path / "b.png"),
                "--scale",
                "0.5",
                "--quiet",
            ]
        )
        == 1
    )
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "a.png"),
                "-o",
                str(tmp_path / "b.png"),
                "--scale",
                "30",
                "--max-pixels",
                "10000",
                "--quiet",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "a.png" in err and "below 1" in err and "exceeds the limit" in err
    assert "raise the limit with --max-pixels" in err  # the CLI's own way out, not the studio's
    assert not (tmp_path / "b.png").exists()


def test_upscale__missing_weights_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SR_LIIF_WEIGHTS", str(tmp_path / "nothing.safetensors"))
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    assert (
        main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--scale", "2"])
        == 2
    )
    assert "sr weights fetch" in capsys.readouterr().err


def test_upscale__animated_and_dropped_alpha_are_noted(tmp_path, capsys):
    frames = [Image.fromarray(smooth_photo(10, 10, seed=i)) for i in range(3)]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:])
    rgba = np.dstack([smooth_photo(10, 10), np.full((10, 10), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "anim.webp"),
                str(tmp_path / "rgba.png"),
                "-o",
                str(tmp_path / "out"),
                "--scale",
                "2",
                "--format",
                "jpeg",
                "--quiet",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "anim.webp: animated (3 frames); only the first frame" in err
    assert "rgba.png: JPEG has no alpha channel" in err
    assert read_image(tmp_path / "out" / "anim.jpg").pixels.shape == (20, 20, 3)


def test_cli__upscale_does_not_load_the_training_stack():
    # torchvision (pulled in by the trainer) brings torch._dynamo: ~160 MB of peak memory that
    # `sr upscale` must not pay for.
    import subprocess
    import sys

    code = (
        "import sys, sr.cli; sr.cli.build_parser(); "
        "print('torchvision' in sys.modules, 'sr.training.loop' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _layouts() -> dict[str, ImageData]:
    rng = np.random.default_rng(0)
    rgb8, rgb16 = smooth_photo(14, 11), rng.integers(0, 65536, (14, 11, 3), dtype=np.uint16)
    ramp8 = np.tile(np.linspace(0, 255, 11).astype(np.uint8), (14, 1))
    return {
        "rgb8": ImageData(rgb8, None, "PNG"),
        "rgba8": ImageData(rgb8, ramp8, "PNG"),
        "gray8": ImageData(rgb8[:, :, :1], None, "PNG"),
        "la8": ImageData(rgb8[:, :, 1:2], ramp8, "PNG"),
        "rgba16": ImageData(rgb16, ramp8.astype(np.uint16) * 257 + 3, "PNG"),
        "la16": ImageData(
            rgb16[:, :, :1], rng.integers(0, 65536, (14, 11), dtype=np.uint16), "PNG"
        ),
    }


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("TIFF", ".tif")])
@pytest.mark.parametrize("layout", ["rgb8", "rgba8", "gray8", "la8", "rgba16", "la16"])
def test_upscale_file__streamed_equals_whole_image_write(tmp_path, fmt, suffix, layout):
    model = tiny_model()
    image = _layouts()[layout]
    write_image(tmp_path / "in.png", image)
    for tile in (2, 5, 256):
        settings = TileSettings(tile=tile, chunk=37)
        out_hw = output_size(image.size, Target(scale=(2.6, 3.0)))
        upscale_file(model, tmp_path / "in.png", tmp_path / f"s{suffix}", Target(scale=(2.6, 3.0)),
                     settings=settings)  # fmt: skip
        whole = upscale_image(model, read_image(tmp_path / "in.png"), out_hw, settings)
        write_image(tmp_path / f"w{suffix}", whole, fmt)
        streamed = read_image(tmp_path / f"s{suffix}")
        reference = read_image(tmp_path / f"w{suffix}")
        assert streamed.pixels.dtype == image.pixels.dtype
        assert streamed.pixels.shape == (42, 29, image.pixels.shape[2])
        assert np.array_equal(streamed.pixels, reference.pixels)
        assert (streamed.alpha is None) == (image.alpha is None)
        if image.alpha is not None:
            assert np.array_equal(streamed.alpha, reference.alpha)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("out_hw", [(100, 61), (300, 200), (37, 29)])
def test_resize_alpha_rows__bands_equal_a_whole_float_resize(dtype, out_hw):
    """Any banding gives the rows of one bicubic resize, rounded once (±1 from float rounding)."""
    top = np.iinfo(dtype).max
    alpha = np.random.default_rng(0).integers(0, top + 1, (37, 29)).astype(dtype)
    whole = np.asarray(
        Image.fromarray(alpha.astype(np.float32)).resize(out_hw[::-1], Image.BICUBIC)
    )
    expected = np.clip(np.rint(whole), 0, top)
    for step in (1, 13, 300):
        bands = [resize_alpha_rows(alpha, out_hw, (t, min(out_hw[0], t + step)))
                 for t in range(0, out_hw[0], step)]  # fmt: skip
        got = np.concatenate(bands)
        assert got.dtype == dtype and got.shape == out_hw
        assert np.abs(got.astype(np.int64) - expected).max() <= 1
