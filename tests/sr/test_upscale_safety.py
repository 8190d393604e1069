"""``sr upscale`` and ``sr eval`` refuse bad requests with one line and never lose or garble data.

Covers: outputs that would overwrite another input, 16-bit alpha, per-file failures in a batch,
bad numeric options, output names that are neither a file nor a folder, link loops, corrupt
weights and a full disk (no temp file left behind).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sr.atomic
import sr.upscale_batch
from sr.cli import main
from sr.image_files import ImageData, read_image, write_image
from sr.inference import TileSettings
from sr.png_stream import PngWriter
from tests.sr.helpers import smooth_photo


def _upscale(weights: Path, *args: str) -> int:
    return main(["upscale", *args, "--weights", str(weights), "--quiet"])


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def _argparse_error(capsys, argv: list[str]) -> str:
    """The one error line of an argument argparse refuses (exit code 2)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1, errors
    return errors[0]


def test_plan_outputs__refuses_output_that_is_another_input(tmp_path, tiny_weights, capsys):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    Image.fromarray(smooth_photo(8, 8, seed=1)).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(smooth_photo(8, 8, seed=2)).save(tmp_path / "b.png")
    before = (tmp_path / "a.jpg").read_bytes()
    code = _upscale(
        tiny_weights, str(tmp_path), "-o", str(tmp_path), "--scale", "2", "--format", "jpg"
    )
    assert code == 1
    errors = _errors(capsys)
    assert (tmp_path / "a.jpg").read_bytes() == before  # a.png's upscale did not land on it
    assert any(f"{tmp_path / 'a.png'}:" in e and "a.jpg" in e and "input" in e for e in errors)
    assert any(f"{tmp_path / 'a.jpg'}:" in e for e in errors)  # its own output is itself
    assert len(errors) == 2
    assert read_image(tmp_path / "b.jpg").pixels.shape == (16, 16, 3)  # the batch went on


def test_plan_outputs__refuses_an_input_reached_through_a_link(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth_photo(8, 8)).save(src / "a.png")
    (tmp_path / "alias").symlink_to(src)
    before = (src / "a.png").read_bytes()
    assert _upscale(tiny_weights, str(src), "-o", str(tmp_path / "alias"), "--scale", "2") == 1
    assert (src / "a.png").read_bytes() == before
    assert "refusing to overwrite an input" in _errors(capsys)[0]


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_upscale__sixteen_bit_alpha_round_trip(tmp_path, tiny_weights, mode):
    rng = np.random.default_rng(0)
    channels = 3 if mode == "RGBA" else 1
    pixels = rng.integers(0, 65536, size=(10, 12, channels), dtype=np.uint16)
    alpha = np.tile(np.linspace(0, 65535, 12).astype(np.uint16), (10, 1))
    write_image(tmp_path / "in.png", ImageData(pixels, alpha, "PNG"))
    assert (
        _upscale(
            tiny_weights, str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--scale", "2"
        )
        == 0
    )
    out = read_image(tmp_path / "out.png")
    assert out.bit_depth == 16 and out.pixels.shape == (20, 24, channels)
    assert out.alpha.dtype == np.uint16 and out.alpha.shape == (20, 24)
    assert out.alpha[:, 0].mean() < 3000 and out.alpha[:, -1].mean() > 62000  # gradient kept
    assert (out.alpha % 257 != 0).any()  # 16-bit alpha, not 8 bits scaled up


@pytest.mark.parametrize(
    "exc,reason",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk full"),
        (MemoryError(), "out of memory"),
        (ValueError("broken sample data"), "broken sample data"),
        (OSError(errno.EACCES, "Permission denied"), "permission denied"),
    ],
)
def test_upscale__any_file_failure_is_one_line_and_batch_goes_on(
    tmp_path, tiny_weights, capsys, monkeypatch, exc, reason
):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(smooth_photo(8, 8)).save(src / name)
    real = sr.upscale_batch.upscale_file

    def flaky(model, source, dst, *args, **kwargs):
        if source.name == "b.png":
            raise exc
        return real(model, source, dst, *args, **kwargs)

    monkeypatch.setattr(sr.upscale_batch, "upscale_file", flaky)
    assert _upscale(tiny_weights, str(src), "-o", str(tmp_path / "out"), "--scale", "2") == 1
    errors = _errors(capsys)
    assert len(errors) == 1 and "b.png" in errors[0] and reason in errors[0], errors
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


@pytest.mark.parametrize(
    "fmt,where", [("png", "rows"), ("png", "fsync"), ("jpg", "fsync"), ("tif", "fsync")]
)
def test_upscale__disk_full_mid_write_leaves_no_temp_file(
    tmp_path, tiny_weights, capsys, monkeypatch, fmt, where
):
    Image.fromarray(smooth_photo(16, 16)).save(tmp_path / "a.png")
    Image.fromarray(smooth_photo(16, 16, seed=1)).save(tmp_path / "b.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.keep").write_bytes(b"old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # "rows": the disk fills while the streamed PNG's rows are written (its header is already
    # in the temp file); "fsync": when the finished temp file is flushed, before the rename.
    if where == "rows":
        monkeypatch.setattr(PngWriter, "write_rows", full)
    else:
        monkeypatch.setattr(sr.atomic.os, "fsync", full)
    code = _upscale(
        tiny_weights, str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(out),
        "--scale", "2", "--format", fmt,
    )  # fmt: skip
    assert code == 1
    errors = _errors(capsys)
    assert len(errors) == 2 and all("disk full" in e for e in errors), errors
    assert sorted(p.name for p in out.iterdir()) == ["old.keep"]  # no temp, no half file


def _mount_tiny_tmpfs(path: Path) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(path)], capture_output=True
    )
    return result.returncode == 0


def test_upscale__real_full_disk_one_line_per_file_and_no_temp(tmp_path, tiny_weights, capsys):
    disk = tmp_path / "disk"
    if not _mount_tiny_tmpfs(disk):
        pytest.skip("needs root and tmpfs to fill a real disk")
    try:
        with contextlib.suppress(OSError), open(disk / "filler", "wb", buffering=0) as fh:
            while True:  # fill the disk up to its last byte
                fh.write(b"\0" * 1024)
        for name in ("a.png", "b.jpg"):
            Image.fromarray(smooth_photo(32, 32)).save(tmp_path / name)
        code = _upscale(
            tiny_weights, str(tmp_path / "a.png"), str(tmp_path / "b.jpg"), "-o", str(disk),
            "--scale", "2",
        )  # fmt: skip
        assert code == 1
        errors = _errors(capsys)
        assert len(errors) == 2 and all("disk full" in e for e in errors), errors
        assert [p.name for p in disk.iterdir()] == ["filler"]  # no temp file, no half file
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.parametrize(
    "option,value",
    [
        ("--tile", "-5"),
        ("--tile", "0"),
        ("--chunk", "-1"),
        ("--chunk", "0"),
        ("--max-pixels", "0"),
        ("--tile", "abc"),
    ],
)
def test_upscale__bad_numeric_options_are_one_line(tmp_path, capsys, option, value):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    argv = ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--scale", "2"]
    line = _argparse_error(capsys, [*argv, option, value])
    assert f"argument {option}" in line
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "abc", "1e9", "0.5", ""])
def test_eval__bad_scale_is_one_line(tmp_path, capsys, value):
    line = _argparse_error(capsys, ["eval", str(tmp_path), "--scale", value])
    assert "argument --scale" in line


@pytest.mark.parametrize("option,value", [("--tile", "0"), ("--chunk", "-3")])
def test_eval__bad_work_sizes_are_one_line(tmp_path, capsys, option, value):
    line = _argparse_error(capsys, ["eval", str(tmp_path), "--scale", "2", option, value])
    assert f"argument {option}" in line


@pytest.mark.parametrize("value", ["", "big", "nan", "2x"])
def test_upscale__bad_scale_text_is_one_line(tmp_path, capsys, value):
    argv = ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--scale", value]
    assert "argument --scale" in _argparse_error(capsys, argv)


@pytest.mark.parametrize("field,value", [("tile", 0), ("tile", -5), ("chunk", 0), ("chunk", 2.5)])
def test_tile_settings__refuses_sizes_below_one(field, value):
    with pytest.raises(ValueError, match=field):
        TileSettings(**{field: value})


def test_upscale__unknown_output_extension_is_refused(tmp_path, tiny_weights, capsys):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    assert (
        _upscale(
            tiny_weights, str(tmp_path / "a.png"), "-o", str(tmp_path / "out.xyz"), "--scale", "2"
        )
        == 2
    )
    errors = _errors(capsys)
    assert len(errors) == 1 and "out.xyz" in errors[0] and ".xyz" in errors[0]
    assert not (tmp_path / "out.xyz").exists()
    (tmp_path / "folder.v2").mkdir()  # an existing folder is a folder, whatever its name
    assert (
        _upscale(
            tiny_weights, str(tmp_path / "a.png"), "-o", str(tmp_path / "folder.v2"), "--scale", "2"
        )
        == 0
    )
    assert (tmp_path / "folder.v2" / "a.png").is_file()
    assert (
        _upscale(
            tiny_weights, str(tmp_path / "a.png"), "-o", str(tmp_path / "plain"), "--scale", "2"
        )
        == 0
    )
    assert (tmp_path / "plain" / "a.png").is_file()


def test_upscale__format_that_disagrees_with_output_name_is_refused(tmp_path, tiny_weights, capsys):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    argv = [str(tmp_path / "a.png"), "-o", str(tmp_path / "x.png"), "--scale", "2"]
    assert _upscale(tiny_weights, *argv, "--format", "jpg") == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "JPEG" in errors[0] and ".png" in errors[0]
    assert not (tmp_path / "x.png").exists()
    assert _upscale(tiny_weights, *argv, "--format", "png") == 0
    assert Image.open(tmp_path / "x.png").format == "PNG"


def test_upscale__link_loop_is_one_line_and_batch_goes_on(tmp_path, tiny_weights, capsys):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(smooth_photo(8, 8)).save(folder / "a.png")
    (folder / "spin.png").symlink_to(folder / "spin.png")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder)  # a folder loop for --recursive
    code = _upscale(
        tiny_weights, str(tmp_path / "loop"), str(folder), "-o", str(tmp_path / "out"),
        "--scale", "2", "--recursive",
    )  # fmt: skip
    assert code == 1
    errors = _errors(capsys)
    assert len(errors) == 1 and "loop" in errors[0] and "symbolic links" in errors[0], errors
    assert (tmp_path / "out" / "a.png").is_file()


def test_upscale__corrupt_weights_file_is_one_line(tmp_path, capsys):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    assert (
        _upscale(bad, str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--scale", "2") == 2
    )
    errors = _errors(capsys)
    assert len(errors) == 1 and str(bad) in errors[0] and "cannot load" in errors[0]


def test_upscale__existing_file_as_output_of_many_inputs_is_refused(tmp_path, tiny_weights, capsys):
    for name in ("a.png", "b.png"):
        Image.fromarray(smooth_photo(8, 8)).save(tmp_path / name)
    (tmp_path / "out.png").write_bytes(b"keep")
    argv = [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out.png")]
    assert _upscale(tiny_weights, *argv, "--scale", "2") == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "2 inputs need an output folder" in errors[0]
    assert (tmp_path / "out.png").read_bytes() == b"keep"


def test_eval__missing_set_is_one_line(tmp_path, tiny_weights, capsys):
    argv = ["eval", str(tmp_path / "nothing"), "--scale", "2", "--weights", str(tiny_weights)]
    assert main(argv) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "no such folder" in errors[0]


def test_upscale__unsearchable_input_is_one_line_and_batch_goes_on(tmp_path, tiny_weights, capsys):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    too_long = tmp_path / ("x" * 300)  # is_dir() raises ENAMETOOLONG instead of saying no
    argv = [str(too_long), str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--scale", "2"]
    assert _upscale(tiny_weights, *argv) == 1
    errors = _errors(capsys)
    assert len(errors) == 1 and "file name too long" in errors[0], errors
    assert (tmp_path / "out" / "a.png").is_file()


def test_upscale__existing_output_is_skipped_and_overwrite_keeps_it_as_a_backup(
    tmp_path, tiny_weights, capsys
):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"an unrelated older file")
    argv = [str(tmp_path / "a.jpg"), "-o", str(out), "--format", "png", "--scale", "2"]
    assert _upscale(tiny_weights, *argv) == 0  # skipped, not failed: a batch run again resumes
    err = capsys.readouterr().err
    assert "error:" not in err and f"skipped {out / 'a.png'}: exists (--overwrite" in err
    assert (out / "a.png").read_bytes() == b"an unrelated older file"

    assert _upscale(tiny_weights, *argv, "--overwrite") == 0
    (backup,) = out.glob("a.png.backup-*")
    assert backup.read_bytes() == b"an unrelated older file"
    assert Image.open(out / "a.png").size == (16, 16)


def test_upscale__failed_overwrite_puts_the_old_file_back(
    tmp_path, tiny_weights, capsys, monkeypatch
):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    out = tmp_path / "b.png"
    out.write_bytes(b"old result")

    def fail_to_write(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sr.upscale_batch, "upscale_file", fail_to_write)
    argv = [str(tmp_path / "a.png"), "-o", str(out), "--scale", "2", "--overwrite"]
    assert _upscale(tiny_weights, *argv) == 1
    assert out.read_bytes() == b"old result" and not list(tmp_path.glob("b.png.backup-*"))
