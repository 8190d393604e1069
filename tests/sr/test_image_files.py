"""Reading and writing keeps what users care about: alpha, gray, 16 bits, orientation, ICC, EXIF."""

from __future__ import annotations

import functools
import io

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from sr.image_files import (
    EXIF_ORIENTATION,
    ImageData,
    ImageFileError,
    eight_bit_pixels,
    eight_bit_rgb,
    image_size,
    read_image,
    to_eight_bit,
    write_image,
)


@functools.cache
def _srgb_icc() -> bytes:
    """One sRGB profile per test run: lcms stamps the creation time into each one it makes."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _rgb16(h=6, w=5, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, size=(h, w, 3), dtype=np.uint16)


def test_read_image__rgba_png_splits_alpha(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, size=(4, 5, 4), dtype=np.uint8)
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.pixels.shape == (4, 5, 3) and img.bit_depth == 8
    assert np.array_equal(img.pixels, arr[:, :, :3]) and np.array_equal(img.alpha, arr[:, :, 3])


def test_read_image__gray_stays_one_channel(tmp_path):
    arr = np.arange(20, dtype=np.uint8).reshape(4, 5)
    Image.fromarray(arr, "L").save(tmp_path / "g.png")
    img = read_image(tmp_path / "g.png")
    assert img.pixels.shape == (4, 5, 1) and img.alpha is None
    assert np.array_equal(img.pixels[:, :, 0], arr)


def test_read_image__sixteen_bit_gray_png(tmp_path):
    arr = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert img.bit_depth == 16 and np.array_equal(img.pixels[:, :, 0], arr)


def test_read_image__sixteen_bit_rgb_png_keeps_all_bits(tmp_path):
    arr = _rgb16()
    cv2.imwrite(str(tmp_path / "c16.png"), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
    img = read_image(tmp_path / "c16.png")
    assert img.pixels.dtype == np.uint16 and np.array_equal(img.pixels, arr)


def test_read_image__sixteen_bit_rgba_tiff(tmp_path):
    arr = np.dstack([_rgb16(), _rgb16(seed=1)[:, :, :1]])
    tifffile.imwrite(tmp_path / "c16.tif", arr, photometric="rgb", extrasamples=["unassalpha"])
    img = read_image(tmp_path / "c16.tif")
    assert np.array_equal(img.pixels, arr[:, :, :3]) and np.array_equal(img.alpha, arr[:, :, 3])


@pytest.mark.parametrize(
    "orientation,op",
    [
        (3, lambda a: a[::-1, ::-1]),
        (6, lambda a: np.rot90(a, -1)),
        (8, lambda a: np.rot90(a, 1)),
        (2, lambda a: a[:, ::-1]),
    ],
)
def test_read_image__applies_exif_orientation(tmp_path, orientation, op):
    arr = np.random.default_rng(0).integers(0, 256, size=(4, 7, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    Image.fromarray(arr).save(tmp_path / "o.png", exif=exif.tobytes())
    img = read_image(tmp_path / "o.png")
    assert np.array_equal(img.pixels, op(arr))
    assert image_size(tmp_path / "o.png") == img.size  # from the header, turned the same way
    kept = Image.Exif()
    kept.load(img.exif)
    assert kept[EXIF_ORIENTATION] == 1


def test_read_image__palette_and_cmyk_become_rgb(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    pal = Image.fromarray(rgb).quantize(colors=16)
    pal.save(tmp_path / "p.png")
    assert pal.mode == "P"
    assert np.array_equal(read_image(tmp_path / "p.png").pixels, np.asarray(pal.convert("RGB")))
    Image.new("CMYK", (4, 3), (0, 255, 0, 0)).save(tmp_path / "c.jpg")
    cmyk = read_image(tmp_path / "c.jpg")
    assert cmyk.pixels.shape == (3, 4, 3) and cmyk.pixels[..., 0].mean() > 200  # magenta-free → red


@pytest.mark.parametrize(
    "fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"), ("TIFF", ".tif")]
)
def test_write_image__keeps_icc_and_exif(tmp_path, fmt, suffix):
    arr = np.random.default_rng(0).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    src = tmp_path / f"src{suffix}"
    Image.fromarray(arr).save(src, format=fmt, icc_profile=_srgb_icc(), exif=exif.tobytes())
    img = read_image(src)
    out = write_image(tmp_path / f"out{suffix}", img)
    with Image.open(out) as back:
        assert back.info.get("icc_profile") == _srgb_icc()
        assert back.getexif().get(0x010F) == "TestCam"


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_write_image__sixteen_bit_round_trip_with_icc(tmp_path, suffix):
    arr = _rgb16()
    cv2.imwrite(str(tmp_path / "in.png"), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
    img = read_image(tmp_path / "in.png")
    img.icc_profile = _srgb_icc()
    out = write_image(tmp_path / f"out{suffix}", img, fmt="TIFF" if suffix == ".tif" else "PNG")
    back = read_image(out)
    assert back.bit_depth == 16 and np.array_equal(back.pixels, arr)
    assert back.icc_profile == _srgb_icc()


def test_write_image__sixteen_bit_gray_alpha_png(tmp_path):
    gray = _rgb16()[:, :, :1]
    alpha = _rgb16(seed=2)[:, :, 0]
    img = read_image(_write_tmp_png(tmp_path))
    img.pixels, img.alpha = gray, alpha
    back = read_image(write_image(tmp_path / "ga16.png", img))
    assert back.bit_depth == 16 and np.array_equal(back.alpha, alpha)
    assert np.array_equal(back.pixels[:, :, 0], gray[:, :, 0])


def _write_tmp_png(tmp_path):
    Image.new("RGB", (2, 2)).save(tmp_path / "tmp.png")
    return tmp_path / "tmp.png"


def test_write_image__sixteen_bit_to_jpeg_rounds_to_eight(tmp_path):
    img = read_image(_write_tmp_png(tmp_path))
    img.pixels = np.full((4, 4, 3), 65535, dtype=np.uint16)
    back = read_image(write_image(tmp_path / "x.jpg", img, fmt="JPEG"))
    assert back.bit_depth == 8 and back.pixels.min() >= 250
    assert to_eight_bit(np.array([0, 257, 65535], dtype=np.uint16)).tolist() == [0, 1, 255]


def test_eight_bit_rgb__sixteen_bit_gray_with_alpha_dropped_or_on_white():
    gray = np.array([[[0], [65535]], [[257], [32896]]], dtype=np.uint16)  # 8-bit 0, 255, 1, 128
    alpha = np.array([[65535, 0], [32768, 65535]], dtype=np.uint16)
    image = ImageData(gray, alpha, "PNG")
    assert eight_bit_pixels(image).tolist() == [[[0], [255]], [[1], [128]]]  # gray kept gray
    dropped = eight_bit_rgb(image)
    assert dropped.dtype == np.uint8 and dropped.shape == (2, 2, 3)
    assert dropped[..., 0].tolist() == [[0, 255], [1, 128]] and (dropped == dropped[..., :1]).all()
    # on white: transparent → 255, half → (1 + 255) / 2, the 16-bit alpha unrounded
    on_white = eight_bit_rgb(image, alpha_on_white=True)
    assert on_white[..., 0].tolist() == [[0, 255], [128, 128]]
    eight = ImageData(np.full((1, 1, 3), 100, np.uint8), np.full((1, 1), 51, np.uint8), "PNG")
    assert eight_bit_rgb(eight).tolist() == [[[100, 100, 100]]]
    assert eight_bit_rgb(eight, alpha_on_white=True).tolist() == [[[224, 224, 224]]]


def _bad_files(tmp_path):
    good = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good, "PNG")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_bytes(b"hello, I am not an image")
    (tmp_path / "trunc.png").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    Image.fromarray(np.zeros((2, 2), np.float32), "F").save(tmp_path / "float.tif")
    return {
        "empty.png": "empty file",
        "text.png": "not an image",
        "trunc.png": "truncated",
        "float.tif": "unsupported image mode F",
    }


def test_read_image__bad_inputs_raise_one_line_naming_file(tmp_path):
    for name, reason in _bad_files(tmp_path).items():
        with pytest.raises(ImageFileError) as info:
            read_image(tmp_path / name)
        message = str(info.value)
        assert name in message and reason in message and "\n" not in message


def test_read_image__decompression_bomb_refused(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageFileError, match="decompression bomb"):
        read_image(tmp_path / "big.png")
    with pytest.raises(ImageFileError, match="decompression bomb"):  # the size alone, too
        image_size(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 8000)  # over it but under twice: a warning
    with pytest.raises(ImageFileError, match="decompression bomb"):
        image_size(tmp_path / "big.png")


def test_write_image__png_leaves_caller_pixels_untouched(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, size=(300, 7, 3), dtype=np.uint8)
    img = read_image(_write_tmp_png(tmp_path))
    img.pixels = arr.copy()
    back = read_image(write_image(tmp_path / "rgb.png", img))
    assert np.array_equal(img.pixels, arr) and np.array_equal(back.pixels, arr)


@pytest.mark.parametrize("suffix,fmt", [(".png", "PNG"), (".tif", "TIFF")])
def test_write_image__sixteen_bit_gray_alpha_round_trip(tmp_path, suffix, fmt):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 65536, size=(6, 5, 1), dtype=np.uint16)
    alpha = rng.integers(0, 65536, size=(6, 5), dtype=np.uint16)
    path = write_image(tmp_path / f"la16{suffix}", ImageData(gray, alpha, fmt), fmt)
    img = read_image(path)  # Pillow reads a 16-bit LA PNG as RGBA and cannot open the TIFF
    assert img.bit_depth == 16 and img.pixels.shape == (6, 5, 1)
    assert image_size(path) == (6, 5)
    assert np.array_equal(img.pixels, gray) and np.array_equal(img.alpha, alpha)


def test_write_image__failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    import errno

    import sr.atomic

    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sr.atomic.os, "fsync", full)
    with pytest.raises(OSError):
        write_image(target, ImageData(np.zeros((4, 4, 3), np.uint8), None, "PNG"))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"] and target.read_bytes() == b"old"
