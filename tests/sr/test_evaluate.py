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
