"""Validated ingest: formats, bit depth, orientation, duplicates, bad-input corpus, flags."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from curator.catalog import RECORD_SELECT, get_image, list_images, summary
from curator.ingest import ingest_paths
from curator.store import image_path
from curator.workspace import Workspace
from sr.image_files import read_image
from tests.curator.helpers import jpeg_bytes, natural, png_header_only, save


def test_ingest_paths__formats_and_duplicates(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in"
    save(src / "a.png", natural("astronaut", 200))
    save(src / "b.webp", natural("chelsea", 200), "WEBP", lossless=True)
    save(src / "c.tif", natural("coffee", 200), "TIFF")
    save(src / "d.bmp", natural("rocket", 200), "BMP")
    (src / "e.jpg").write_bytes(jpeg_bytes(natural("immunohistochemistry", 200)))
    (src / "sub").mkdir()
    (src / "sub" / "copy.png").write_bytes((src / "a.png").read_bytes())
    (src / "notes.txt").write_text("not scanned: not an image extension")

    report = ingest_paths(ws, [src])
    assert len(report.added) == 5 and not report.errors and not report.duplicates
    again = ingest_paths(ws, [src], recursive=True)
    assert again.added == [] and len(again.duplicates) == 6  # 5 re-seen + the copy in sub/
    records = list_images(ws)
    assert len(records) == 5
    assert {r.format for r in records} == {"PNG", "WEBP", "TIFF", "BMP", "JPEG"}
    for record in records:
        stored = image_path(ws, record)
        assert stored.is_file() and record.status == "pending" and record.source == "original"
        assert (record.width, record.height) == (200, 200)
    assert summary(ws)["by_status"]["pending"] == 5


def test_ingest_paths__sixteen_bit_kept(ws: Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = (natural("coffee", 200).astype(np.uint16) * 257) + rng.integers(0, 200, (200, 200, 3))
    pixels = pixels.astype(np.uint16)
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    tiff = tmp_path / "deep.tif"
    import tifffile

    tifffile.imwrite(tiff, pixels[:, :, 0])
    report = ingest_paths(ws, [path, tiff])
    assert len(report.added) == 2, report.errors
    for image_id, expected in zip(report.added, (pixels, pixels[:, :, :1]), strict=True):
        record = get_image(ws, image_id)
        assert record.bit_depth == 16
        back = read_image(image_path(ws, record))
        assert back.pixels.dtype == np.uint16
        np.testing.assert_array_equal(back.pixels, expected)


def test_ingest_paths__exif_orientation_applied_and_icc_kept(ws: Workspace, tmp_path: Path) -> None:
    array = natural("astronaut", 200)[:, :120]  # 200 tall, 120 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: displayed image is 120 tall, 200 wide
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "rot.jpg"
    path.write_bytes(jpeg_bytes(array, 95, exif=exif, icc_profile=icc))
    report = ingest_paths(ws, [path])
    record = get_image(ws, report.added[0])
    assert (record.width, record.height) == (200, 120)
    assert record.has_icc
    stored = read_image(image_path(ws, record))
    assert stored.size == (120, 200) and stored.icc_profile == icc
    with Image.open(image_path(ws, record)) as im:  # a plain reader sees upright pixels too
        assert im.size == (200, 120)


def test_ingest_paths__palette_cmyk_gray_alpha(ws: Workspace, tmp_path: Path) -> None:
    rgb = natural("chelsea", 200)
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    Image.fromarray(rgb).convert("LA").save(tmp_path / "la.png")
    report = ingest_paths(ws, [tmp_path])
    assert len(report.added) == 3, report.errors
    modes = {get_image(ws, i).mode: get_image(ws, i) for i in report.added}
    assert set(modes) == {"P", "CMYK", "LA"}
    assert modes["LA"].has_alpha
    with Image.open(image_path(ws, modes["CMYK"])) as im:  # normalised: RGB PNG
        assert im.mode == "RGB"


def test_ingest_paths__bad_input_corpus(ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    good = save(bad / "good.png", natural("astronaut", 200))
    (bad / "empty.png").write_bytes(b"")
    full = good.read_bytes()
    (bad / "truncated.png").write_bytes(full[: len(full) // 2])
    jpeg = jpeg_bytes(natural("coffee", 200))
    (bad / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (bad / "text.png").write_text("hello, I am not a picture")
    png_header_only(bad / "bomb.png", 60000, 60000)
    save(bad / "anim.gif", natural("rocket", 64), "GIF")
    frames = [Image.fromarray(natural(n, 200)) for n in ("rocket", "coffee")]
    frames[0].save(bad / "anim.png", save_all=True, append_images=frames[1:])
    odd_name = os.fsdecode(b"odd \xff name\nline \xe2\x98\x83.png")
    save(bad / odd_name, natural("chelsea", 200))

    report = ingest_paths(ws, [bad])
    reasons = {Path(name).name: reason for name, reason in report.errors}
    assert set(reasons) == {
        "empty.png",
        "truncated.png",
        "truncated.jpg",
        "text.png",
        "bomb.png",
        "anim.gif",
    }
    assert "0 bytes" in reasons["empty.png"]
    assert "truncated" in reasons["truncated.png"] and "truncated" in reasons["truncated.jpg"]
    assert "not an image" in reasons["text.png"]
    assert "decompression bomb" in reasons["bomb.png"]
    assert "unsupported format GIF" in reasons["anim.gif"]
    for name, reason in report.errors:  # every message is one printable line
        assert "\n" not in name + reason
    # the rest of the batch went on: good, animated (first frame) and the odd name
    assert len(report.added) == 3
    animated = list_images(ws, flag="animated")
    assert len(animated) == 1 and animated[0].flags["animated"] == 2
    assert any("first frame" in note for _, note in report.notes)
    first = read_image(image_path(ws, animated[0])).pixels
    np.testing.assert_array_equal(first, np.asarray(frames[0]))
    odd = [r for r in list_images(ws) if "odd" in r.original_name]
    assert len(odd) == 1 and "\n" not in odd[0].original_name and "\\xff" in odd[0].original_name


def test_ingest_paths__pixel_limit_is_configurable(tmp_path: Path) -> None:
    from curator.config import CONFIG_NAME
    from curator.workspace import init_workspace, open_workspace

    ws = init_workspace(tmp_path / "w")
    (ws.root / CONFIG_NAME).write_text("ingest:\n  max_pixels: 10000\n")
    ws = open_workspace(ws.root)
    path = save(tmp_path / "big.png", natural("astronaut", 101))
    report = ingest_paths(ws, [path])
    assert report.added == [] and "10201 pixels > limit 10000" in report.errors[0][1]


def test_ingest_paths__quality_flags(ws: Workspace, tmp_path: Path) -> None:
    sharp = natural("astronaut", 256)
    save(tmp_path / "sharp.png", sharp)
    save(tmp_path / "small.png", natural("coffee", 100))
    save(tmp_path / "blurry.png", cv2.GaussianBlur(natural("chelsea", 256), (0, 0), 4))
    (tmp_path / "blocky.jpg").write_bytes(jpeg_bytes(natural("rocket", 256), quality=5))
    noisy = np.clip(
        sharp.astype(int) + np.random.default_rng(1).integers(-3, 4, sharp.shape), 0, 255
    )
    save(tmp_path / "sharp_copy.png", noisy.astype(np.uint8))
    report = ingest_paths(ws, [tmp_path])
    assert not report.errors
    by_name = {Path(r.original_name).name: r for r in list_images(ws)}
    assert by_name["sharp.png"].flags == {}
    assert by_name["small.png"].flags == {"too_small": 100.0}
    assert set(by_name["blurry.png"].flags) == {"blurry", "upsampled"}  # soft: both
    assert by_name["blurry.png"].flags["blurry"] < ws.config.ingest.blur_threshold
    assert "jpeg_blocking" in by_name["blocky.jpg"].flags
    near = by_name["sharp_copy.png"]
    assert set(near.flags) == {"near_duplicate"}
    assert f"#{by_name['sharp.png'].id}" in near.flag_details["near_duplicate"]


def test_ingest_paths__missing_path_reported(ws: Workspace, tmp_path: Path) -> None:
    report = ingest_paths(ws, [tmp_path / "nope.png"])
    assert report.errors == [(str(tmp_path / "nope.png"), "no such file")]


@pytest.mark.parametrize("quality", [5])
def test_blockiness__straightforward_reference(quality: int) -> None:
    from curator.quality import blockiness

    array = np.asarray(Image.open(io.BytesIO(jpeg_bytes(natural("coffee", 128), quality))))
    gray = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY).astype(float)
    ratios = []
    for g in (gray, gray.T):
        border, inside = [], []
        for j in range(g.shape[1] - 1):
            d = np.abs(g[:, j + 1] - g[:, j])
            (border if j % 8 == 7 else inside).append(d)
        ratios.append(np.mean(border) / np.mean(inside))
    assert blockiness(array) == pytest.approx(np.mean(ratios), rel=1e-9)


@pytest.mark.parametrize("quality", [15, 40, 60, 75, 85, 95])
def test_jpeg_quality__recovers_the_save_quality(quality: int) -> None:
    from curator.quality import jpeg_quality

    data = jpeg_bytes(natural("coffee", 64), quality)
    with Image.open(io.BytesIO(data)) as im:
        estimate = jpeg_quality(tuple(im.quantization[0]))
    assert abs(estimate - quality) <= 1.5


def test_ingest__lossy_jpeg_flagged_by_its_quality(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for q in (30, 95):
        (tmp_path / "in" / f"q{q}.jpg").write_bytes(jpeg_bytes(natural("coffee", 224), q))
    ingest_paths(ws, [tmp_path / "in"])
    flags = {Path(r.original_name).name: r.flags for r in list_images(ws)}
    assert 29 <= flags["q30.jpg"]["lossy_jpeg"] <= 31
    assert "lossy_jpeg" not in flags["q95.jpg"]


def test_add_image__every_column_of_the_row_reads_back(ws: Workspace, tmp_path: Path) -> None:
    from curator.catalog import Provenance
    from curator.ingest import add_image

    (parent,) = ingest_paths(ws, [save(tmp_path / "p.png", natural("astronaut", 64))]).added
    child = save(tmp_path / "c.png", natural("chelsea", 48))
    made = Provenance(
        source="generated",
        round=3,
        parent_id=parent,
        seed=11,
        generator_model="tiny-sd",
        generator_settings={"mode": "img2img"},
    )
    image_id, is_new = add_image(
        ws,
        content_hash="ab" * 32,
        store_file=lambda target: save(target, natural("chelsea", 48)),
        extension=".png",
        decoded=read_image(child),
        original_name="made",
        mode="RGB",
        provenance=made,
    )
    assert is_new
    with ws.session() as conn:
        row = dict(conn.execute(f"{RECORD_SELECT} WHERE id = ?", (image_id,)).fetchone())
    assert row["created_at"] and row["phash"] and len(row["phash"]) == 16
    del row["created_at"], row["phash"], row["status_time"]
    assert row == {
        "id": image_id,
        "content_hash": "ab" * 32,
        "store_path": f"ab/{'ab' * 32}.png",
        "original_name": "made",
        "width": 48,
        "height": 48,
        "mode": "RGB",
        "bit_depth": 8,
        "has_alpha": 0,
        "has_icc": 0,
        "format": "PNG",
        "source": "generated",
        "round": 3,
        "parent_id": parent,
        "prompt_id": None,
        "seed": 11,
        "generator_model": "tiny-sd",
        "generator_settings": '{"mode": "img2img"}',
        "status": "pending",
        "status_reason": "",
    }


def test_ingest__files_that_are_not_images_are_named_as_skipped(ws, tmp_path, capsys):
    from curator.cli import main
    from tests.curator.helpers import natural, save

    folder = tmp_path / "mixed"
    save(folder / "a.png", natural("chelsea", 64))
    (folder / "notes.txt").write_text("not a picture")
    (folder / ".hidden.txt").write_text("hidden files are not mentioned")
    report = ingest_paths(ws, [folder])
    assert len(report.added) == 1 and report.errors == []
    assert [Path(p).name for p in report.skipped] == ["notes.txt"]
    assert main(["ingest", str(ws.root), str(folder)]) == 0
    captured = capsys.readouterr()
    assert "notes.txt: skipped (not an image file type)" in captured.err
    assert "skipped 1" in captured.out


def test_ingest__a_given_name_is_recorded_instead_of_the_temporary_path(ws, tmp_path):
    from curator.catalog import get_image
    from tests.curator.helpers import natural, save

    copy = save(tmp_path / "tmpabc123" / "small.png", natural("rocket", 64))
    report = ingest_paths(ws, [copy], names={copy: "upload: small.png"})
    assert get_image(ws, report.added[0]).original_name == "upload: small.png"
