"""Folder batches: one bar over every pixel, resuming by skipping outputs that exist, fitting
into a box, and reads, bands and encodes overlapped without changing a byte of the output."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from sr.cli import main
from sr.inference import TileSettings
from sr.prefetch import ahead
from sr.upscale import Target, UpscaleError, output_size, parse_box, plan_outputs, upscale_file
from sr.upscale_batch import (
    FAILED,
    SKIPPED,
    WRITTEN,
    BatchOptions,
    planned_pixels,
    upscale_batch,
)
from tests.sr.helpers import smooth_photo, tiny_model


def _folder(root: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    root.mkdir()
    for i, (name, (h, w)) in enumerate(sizes.items()):
        Image.fromarray(smooth_photo(h, w, seed=i)).save(root / name)
    return root


# --- overlap ----------------------------------------------------------------------------------


def test_ahead__keeps_order_and_computes_the_next_item_while_the_caller_holds_this_one():
    with_caller = threading.Event()
    started = []

    def items():
        for i in range(4):
            started.append(i)
            if i == 1:  # item 1 is computed while the caller still holds item 0
                assert with_caller.wait(10)
            yield i

    with ThreadPoolExecutor(1) as pool:
        seen = []
        for item in ahead(items(), pool):
            if item == 0:  # the worker starts on item 1 before the caller lets go of item 0
                deadline = time.monotonic() + 10
                while 1 not in started and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert 1 in started
                with_caller.set()
            seen.append(item)
    assert seen == [0, 1, 2, 3]


def test_ahead__an_error_arrives_at_its_item_and_an_early_stop_closes_the_source():

    def failing():
        yield 0
        raise ValueError("bad item 1")

    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    with ThreadPoolExecutor(1) as pool:
        got = []
        with pytest.raises(ValueError, match="bad item 1"):
            for item in ahead(failing(), pool):
                got.append(item)
        assert got == [0]
        stream = ahead(endless(), pool)
        assert [next(stream), next(stream)] == [0, 1]
        stream.close()  # the item in flight is finished and dropped; the source is closed
        assert closed == [True]


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"], ids=["png", "jpeg", "webp-in-memory"])
def test_batch__overlapped_outputs_equal_one_file_at_a_time(tmp_path, fmt):
    src = _folder(tmp_path / "in", {"a.png": (20, 16), "b.png": (9, 30), "c.png": (25, 25)})
    (src / "broken.png").write_bytes(b"not a png")
    model = tiny_model()
    inputs = [(p, Path(p.name)) for p in sorted(src.iterdir())]
    settings = TileSettings(tile=8)  # several bands per image, so bands overlap with encoding
    results = {}
    for overlap in (True, False):
        out = tmp_path / f"out-{overlap}"
        plans = plan_outputs(inputs, out, fmt)
        options = BatchOptions(Target(scale=(2.5, 2.5)), fmt, settings, overlap=overlap)
        outcomes = list(upscale_batch(model, plans, options))
        assert [o.state for o in outcomes] == [WRITTEN, WRITTEN, FAILED, WRITTEN]
        assert "broken.png" in outcomes[2].lines[0]
        results[overlap] = _outputs(out)
    assert results[True] == results[False]
    # and both equal the single-file path, file by file
    alone = tmp_path / "alone"
    alone.mkdir()
    ext = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}[fmt]
    for name in ("a", "b", "c"):
        upscale_file(model, src / f"{name}.png", alone / f"{name}{ext}", Target(scale=(2.5, 2.5)),
                     fmt=fmt, settings=settings)  # fmt: skip
    assert results[True] == _outputs(alone)


def test_batch__planned_pixels_are_the_pixels_written(tmp_path):
    src = _folder(tmp_path / "in", {"a.png": (20, 16), "b.png": (9, 31)})
    (src / "broken.png").write_bytes(b"junk")
    inputs = [(p, Path(p.name)) for p in sorted(src.iterdir())]
    plans = plan_outputs(inputs, tmp_path / "out", None)
    options = BatchOptions(Target(scale=(1.7, 2.2)))
    planned = planned_pixels(plans, options)
    done: list[int] = []
    list(upscale_batch(tiny_model(), plans, options, progress=done.append))
    written = [Image.open(tmp_path / "out" / n).size for n in ("a.png", "b.png")]
    assert planned == [written[0][0] * written[0][1], written[1][0] * written[1][1], 0]
    assert sum(done) == sum(planned)


# --- resume -----------------------------------------------------------------------------------


def test_cli__a_batch_run_again_skips_what_exists_and_redoes_what_is_missing(
    tmp_path, tiny_weights, capsys
):
    src = _folder(tmp_path / "in", {f"{c}.png": (12, 10) for c in "abcd"})
    out = tmp_path / "out"
    argv = ["upscale", str(src), "-o", str(out), "--scale", "2", "--weights", str(tiny_weights)]
    assert main(argv) == 0
    assert "4 written, 0 skipped, 0 failed" in capsys.readouterr().err
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / "c.png").unlink()  # as if the first run had stopped before c
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 written, 3 skipped, 0 failed" in err and "skipped 3 outputs: exists" in err
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert sorted(after) == ["a.png", "b.png", "c.png", "d.png"]
    assert all(after[n] == before[n] for n in ("a.png", "b.png", "d.png"))  # not rewritten
    outcomes = list(
        upscale_batch(
            tiny_model(),
            plan_outputs([(src / "a.png", Path("a.png"))], out, None),
            BatchOptions(Target(scale=(2, 2))),
        )
    )
    assert [o.state for o in outcomes] == [SKIPPED]


# --- fit into a box ---------------------------------------------------------------------------


def test_fit__the_output_fills_the_box_on_one_side_and_keeps_the_aspect():
    assert output_size((100, 200), Target(fit=(1000, 1000))) == (500, 1000)
    assert output_size((100, 200), Target(fit=(300, 1000))) == (150, 300)
    assert output_size((333, 500), Target(fit=(1024, 1024))) == (682, 1024)
    assert output_size((64, 64), Target(fit=(64, 64))) == (64, 64)  # already fits exactly
    for h, w in ((7, 13), (13, 7), (333, 500), (1, 999)):
        out_h, out_w = output_size((h, w), Target(fit=(1000, 700)))
        assert (out_w == 1000 and out_h <= 700) or (out_h == 700 and out_w <= 1000)
        assert abs(out_w / out_h - w / h) <= w / h * (1 / out_h + 1 / out_w)
    with pytest.raises(UpscaleError, match="already larger than the box"):
        output_size((100, 200), Target(fit=(150, 1000)))
    assert parse_box("2048x1536") == (2048, 1536)
    for bad in ("0x5", "5x0", "12", "axb"):
        with pytest.raises(UpscaleError, match="invalid box"):
            parse_box(bad)


def test_cli__max_side_and_fit_in_a_batch_with_one_image_too_large(tmp_path, tiny_weights, capsys):
    sizes = {"wide.png": (10, 20), "tall.png": (30, 12), "big.png": (50, 50)}
    src = _folder(tmp_path / "in", sizes)
    out = tmp_path / "out"
    weights = ["--weights", str(tiny_weights)]
    assert main(["upscale", str(src), "-o", str(out), "--max-side", "40", *weights]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "big.png" in errors[0] and "larger than the box" in errors[0]
    assert Image.open(out / "wide.png").size == (40, 20)
    assert Image.open(out / "tall.png").size == (16, 40)
    assert main(["upscale", str(src / "wide.png"), "-o", str(tmp_path / "w.png"),
                 "--fit", "100x30", *weights]) == 0  # fmt: skip
    assert Image.open(tmp_path / "w.png").size == (60, 30)


def test_cli__a_named_output_file_that_exists_is_refused_not_skipped(
    tmp_path, tiny_weights, capsys
):
    Image.fromarray(smooth_photo(8, 8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"an older x2 result")
    argv = ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--scale", "4"]
    assert main([*argv, "--weights", str(tiny_weights)]) == 1  # a stale file is no success
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "exists" in errors[0] and "--overwrite" in errors[0]
    assert (tmp_path / "b.png").read_bytes() == b"an older x2 result"


def test_batch__ctrl_c_during_an_overwrite_puts_the_old_file_back(tmp_path, monkeypatch):
    import sr.upscale_batch

    src = _folder(tmp_path / "in", {"a.png": (8, 8)})
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"old result")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sr.upscale_batch, "upscale_file", interrupted)
    plans = plan_outputs([(src / "a.png", Path("a.png"))], out, None, overwrite=True)
    with pytest.raises(KeyboardInterrupt):
        list(upscale_batch(tiny_model(), plans, BatchOptions(Target(scale=(2, 2)))))
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
    assert (out / "a.png").read_bytes() == b"old result"
