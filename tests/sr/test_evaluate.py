"""``sr eval`` reproduces the official LIIF-EDSR numbers with the paper's protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sr.benchmark_sets import iter_pairs, make_pair
from sr.cli import main
from sr.evaluate import evaluate_set
from sr.metrics import psnr
from tests.sr.helpers import official_model

# Measured with the official code and checkpoint (issue 3).
SET5 = {2: 37.9877, 3: 34.3997, 4: 32.2375, 8: 26.9824}
SET14 = {2: 33.6621, 3: 30.3421, 4: 28.6181}


def test_psnr__matches_numpy_formula():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 20, 24)), rng.random((3, 20, 24))
    y = lambda x: (65.738 * x[0] + 129.057 * x[1] + 25.064 * x[2]) / 256  # noqa: E731
    mse = np.mean((y(a) - y(b))[3:-3, 3:-3] ** 2)
    expected = 10 * np.log10(1 / mse)
    got = psnr(torch.from_numpy(a).float(), torch.from_numpy(b).float(), crop_border=3)
    assert got == pytest.approx(expected, abs=1e-4)
    assert psnr(torch.ones(3, 4, 4), torch.ones(3, 4, 4)) == float("inf")


def test_make_pair__crops_hr_to_multiple_of_scale():
    lr, hr = make_pair(torch.rand(3, 101, 77), 8)
    assert lr.shape == (3, 12, 9) and hr.shape == (3, 96, 72)
    lr, hr = make_pair(torch.rand(3, 50, 50), 2.5)
    assert lr.shape == (3, 20, 20) and hr.shape == (3, 50, 50)


def test_iter_pairs__uses_set_lr_files_for_integer_scales(benchmarks_dir):
    pairs = {p.name: p for p in iter_pairs(benchmarks_dir / "Set5", 4)}
    assert sorted(pairs) == ["baby", "bird", "butterfly", "head", "woman"]
    baby = pairs["baby"]
    assert baby.lr.shape == (3, 128, 128) and baby.hr.shape == (3, 512, 512)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_evaluate_set__set5_reproduces_official(benchmarks_dir, scale):
    result = evaluate_set(official_model(), benchmarks_dir / "Set5", scale)
    assert result.images == 5 and result.shave == scale
    assert abs(result.psnr - SET5[scale]) <= 0.01


@pytest.mark.slow
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_evaluate_set__set14_reproduces_official(benchmarks_dir, scale):
    result = evaluate_set(official_model(), benchmarks_dir / "Set14", scale)
    assert result.images == 14
    assert abs(result.psnr - SET14[scale]) <= 0.01


def test_eval_cli__json_output(benchmarks_dir, tmp_path, capsys):
    # A one-image set in the same layout exercises the CLI path quickly.
    hr_dir = tmp_path / "Mini" / "HR"
    hr_dir.mkdir(parents=True)
    (hr_dir / "bird.png").write_bytes((benchmarks_dir / "Set5" / "HR" / "bird.png").read_bytes())
    assert main(["eval", str(tmp_path / "Mini"), "--scale", "6", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scale"] == 6 and report["images"] == 1 and report["shave"] == 6
    assert set(report["per_image"]) == {"bird"} and 20 < report["psnr"] < 40
    assert report["psnr"] == pytest.approx(report["per_image"]["bird"])


def test_eval_cli__missing_set_is_clear(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--scale", "2"]) == 2
    assert "no images" in capsys.readouterr().err


def test_eval_cli__plain_folder_of_hr_images(benchmarks_dir, tmp_path, capsys):
    # A plain folder is a set of HR images; LR is made by bicubic as for the EDSR layout
    # without LR files: the same numbers as a one-image EDSR-layout set.
    bird = (benchmarks_dir / "Set5" / "HR" / "bird.png").read_bytes()
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "bird.png").write_bytes(bird)
    (tmp_path / "Mini" / "HR").mkdir(parents=True)
    (tmp_path / "Mini" / "HR" / "bird.png").write_bytes(bird)
    results = []
    for folder in ("plain", "Mini"):
        assert main(["eval", str(tmp_path / folder), "--scale", "4", "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0]["per_image"] == results[1]["per_image"] and results[0]["images"] == 1


def _tiny_sets(root, benchmarks_dir):
    """Two plain folders of two 48×48 crops of Set5 pictures each (fast to evaluate)."""
    from PIL import Image

    for name, pictures in (("A", ("bird", "baby")), ("B", ("head", "woman"))):
        (root / name).mkdir(parents=True)
        for picture in pictures:
            with Image.open(benchmarks_dir / "Set5" / "HR" / f"{picture}.png") as im:
                im.crop((100, 100, 148, 148)).save(root / name / f"{picture}.png")
    return [root / "A", root / "B"]


def test_eval_cli__matrix_equals_one_call_per_cell(benchmarks_dir, tmp_path, capsys):
    from sr.weights import save_model
    from tests.sr.helpers import tiny_model

    sets = _tiny_sets(tmp_path, benchmarks_dir)
    weights = tmp_path / "tiny.safetensors"
    save_model(tiny_model(seed=1), weights)
    specs = ["official", str(weights)]
    argv = ["eval", *map(str, sets), "--scale", "2", "3", "--weights", *specs, "--json"]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 8
    cells = {(r["weights"], r["set"], r["scale"]): r["psnr"] for r in rows}
    assert len(cells) == 8
    for spec in specs:
        for folder in sets:
            for scale in ("2", "3"):
                argv = ["eval", str(folder), "--scale", scale, "--weights", spec, "--json"]
                assert main(argv) == 0
                alone = json.loads(capsys.readouterr().out)
                assert cells[(spec, folder.name, float(scale))] == alone["psnr"]
    # the two models differ, so a matrix that reused one model would fail above
    assert cells[("official", "A", 2.0)] != cells[(str(weights), "A", 2.0)]


def test_eval_cli__matrix_table_names_every_cell(benchmarks_dir, tmp_path, capsys):
    sets = _tiny_sets(tmp_path, benchmarks_dir)
    assert main(["eval", *map(str, sets), "--scale", "2", "4"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| official")]
    assert [line.split(" | ")[1] for line in table] == ["A", "B"]
    assert "| weights | set | x2 | x4 |" in out


def test_eval_cli__bad_checkpoint_among_several_is_one_line(benchmarks_dir, tmp_path, capsys):
    sets = _tiny_sets(tmp_path, benchmarks_dir)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    argv = ["eval", str(sets[0]), "--scale", "2", "--weights", str(broken), "official", "--json"]
    assert main(argv) == 1  # partial: the official row is there
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["weights"] for r in rows] == ["official"]
    assert captured.err.count("error:") == 1 and "broken.safetensors" in captured.err


def test_eval_cli__typo_or_missing_set_fails_before_any_work(benchmarks_dir, tmp_path, capsys):
    sets = _tiny_sets(tmp_path, benchmarks_dir)
    argv = ["eval", str(sets[0]), "--scale", "2", "--weights", "official", str(tmp_path / "nope")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "nope" in captured.err
    argv = ["eval", str(sets[0]), str(tmp_path / "missing"), "--scale", "2", "--json"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "missing" in captured.err


def test_eval_cli__quiet_matrix_still_prints_the_table(benchmarks_dir, tmp_path, capsys):
    sets = _tiny_sets(tmp_path, benchmarks_dir)
    assert main(["eval", *map(str, sets), "--scale", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| weights | set | x2 |" in out and "| official | B |" in out
    assert "dB" not in out  # no per-image or per-cell lines


def test_eval_cli__two_sets_with_one_name_are_refused(benchmarks_dir, tmp_path, capsys):
    first = _tiny_sets(tmp_path / "one", benchmarks_dir)[0]
    second = _tiny_sets(tmp_path / "two", benchmarks_dir)[0]
    assert main(["eval", str(first), str(second), "--scale", "2", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "two sets named 'A'" in captured.err


def test_evaluate_matrix__decodes_each_file_once_and_keeps_the_order(tmp_path, monkeypatch):
    import sr.benchmark_sets
    from sr.evaluate import evaluate_matrix
    from tests.app.conftest import noise_image
    from tests.sr.helpers import tiny_model

    sets = [tmp_path / "A", tmp_path / "B"]
    for k, folder in enumerate(sets):
        for i in range(2):
            noise_image(folder / "HR" / f"img{i}.png", (24, 20), seed=10 * k + i)
    noise_image(sets[0] / "LR_bicubic" / "X2" / "img0x2.png", (12, 10), seed=99)  # a set's LR
    models = {"one": tiny_model(seed=1), "two": tiny_model(seed=2)}
    decoded = []
    real = sr.benchmark_sets.load_rgb_tensor
    monkeypatch.setattr(
        sr.benchmark_sets, "load_rgb_tensor", lambda path: decoded.append(path) or real(path)
    )
    heard = []
    results = evaluate_matrix(
        ["one", "two"], sets, [2, 2.5], models.__getitem__, on_result=heard.append
    )
    monkeypatch.undo()
    assert sorted(decoded) == sorted(p for s in sets for p in s.rglob("*.png"))  # each once
    cells = [(r.weights, r.set, r.scale) for r in results]
    assert cells == [(w, s, x) for w in ("one", "two") for s in ("A", "B") for x in (2, 2.5)]
    assert sorted(cells) == sorted((r.weights, r.set, r.scale) for r in heard)
    for result in results:
        alone = evaluate_set(models[result.weights], tmp_path / result.set, result.scale)
        assert result.per_image == alone.per_image and result.psnr == alone.psnr


def test_eval_cli__a_set_by_name_from_the_benchmark_folder(
    benchmarks_dir, tmp_path, monkeypatch, capsys
):
    """``sr eval Set5``: a name that is not a path is looked up in the benchmark folder."""
    from PIL import Image

    root = tmp_path / "bench"
    (root / "Tiny" / "HR").mkdir(parents=True)
    with Image.open(benchmarks_dir / "Set5" / "HR" / "bird.png") as im:
        im.crop((100, 100, 148, 148)).save(root / "Tiny" / "HR" / "bird.png")
    monkeypatch.setenv("SR_BENCHMARKS", str(root))
    monkeypatch.chdir(tmp_path)  # no ./Tiny here
    assert main(["eval", "Tiny", "--scale", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1
    assert main(["eval", "Nowhere", "--scale", "4"]) == 2
    assert "Nowhere: no such folder" in capsys.readouterr().err
