"""Reduced precision: refusals, bf16 inference against the fp32 literal method, bf16 training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from sr import precision
from sr.cli import main
from sr.config_io import ConfigError
from sr.coords import make_cell, make_coord
from sr.inference import upscale_tensor
from sr.models.liif_reference import reference_batched_predict
from sr.precision import PrecisionError, autocast, precision_dtype
from sr.training.config import TrainConfig, dump_config, load_config
from sr.training.logs import CsvLog
from sr.training.loop import Trainer
from sr.training.step import TrainForward, per_sample_l1
from sr.weights import load_model
from tests.sr.helpers import official_model, smooth_photo, tiny_model
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Let bf16 through the capability check, so these tests run on any CPU (slowly where the
    instructions are missing: torch then emulates them)."""
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)


def test_precision_dtype__names_and_refusals(monkeypatch):
    assert precision_dtype("fp32") == torch.float32
    with pytest.raises(PrecisionError, match="use one of fp32, bf16, fp16"):
        precision_dtype("fp8")
    with pytest.raises(PrecisionError, match="fp16: only on CUDA"):
        precision_dtype("fp16", "cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    with pytest.raises(PrecisionError, match="neither AVX512-BF16 nor AMX"):
        precision_dtype("bf16", "cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert precision_dtype("bf16", "cpu") == torch.bfloat16


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean()))


def test_bf16_upscale__close_to_the_fp32_literal_method():
    fp32 = official_model()
    bf16 = official_model().to(torch.bfloat16)
    assert bf16.dtype == torch.bfloat16
    img = torch.from_numpy(smooth_photo(40, 36, seed=2)).permute(2, 0, 1).float() / 255
    out_hw = (100, 90)  # x2.5: queries between codes, where coordinates matter
    coord = make_coord(out_hw).unsqueeze(0)
    cell = make_cell(out_hw, coord.shape[1]).unsqueeze(0)
    with torch.no_grad():
        literal = reference_batched_predict(fp32, img.unsqueeze(0), coord, cell)
    literal = literal[0].t().reshape(3, *out_hw)
    fast_bf16 = upscale_tensor(bf16, img, out_hw)
    assert fast_bf16.dtype == torch.float32
    assert not torch.equal(fast_bf16, upscale_tensor(fp32, img, out_hw))  # bf16 really ran
    # bf16 keeps ~3 significant digits per activation; over the whole network the output stays
    # within about one 8-bit code (measured: 63.7 dB, largest difference 0.9/255), far below
    # what the eye or a PSNR of 30-40 dB against ground truth notices.
    assert _psnr(fast_bf16, literal) > 55
    assert (fast_bf16 - literal).abs().max() < 2 / 255


def _write_hr_folder(folder, n: int = 2):
    folder.mkdir()
    for i in range(n):
        Image.fromarray(smooth_photo(48, 48, seed=i)).save(folder / f"hr{i}.png")
    return folder


def test_cli__precision_refused_before_work_and_recorded_in_eval_json(
    tmp_path, capsys, tiny_weights, bf16_cpu
):
    hr = _write_hr_folder(tmp_path / "hr")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["upscale", str(hr), "-o", str(out), "--scale", "2", "--precision", "fp16"])
    assert exit_info.value.code == 2
    assert "precision fp16: only on CUDA devices" in capsys.readouterr().err
    assert not out.exists()  # refused before anything was written

    results = {}
    for name in ("fp32", "bf16"):
        args = ["eval", str(hr), "--scale", "2", "--json", "--weights", str(tiny_weights)]
        assert main([*args, "--precision", name]) == 0
        results[name] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert results["bf16"]["precision"] == "bf16" and results["fp32"]["precision"] == "fp32"
    assert results["bf16"]["psnr"] != results["fp32"]["psnr"]
    assert abs(results["bf16"]["psnr"] - results["fp32"]["psnr"]) < 0.1


def test_cli_upscale__bf16_writes_an_image_close_to_fp32(tmp_path, tiny_weights, bf16_cpu):
    src = tmp_path / "in.png"
    Image.fromarray(smooth_photo(30, 26)).save(src)
    outputs = {}
    for name in ("fp32", "bf16"):
        dst = tmp_path / f"{name}.png"
        args = ["upscale", str(src), "-o", str(dst), "--scale", "3", "--quiet"]
        assert main([*args, "--weights", str(tiny_weights), "--precision", name]) == 0
        outputs[name] = np.asarray(Image.open(dst)).astype(int)
    assert outputs["bf16"].shape == outputs["fp32"].shape == (90, 78, 3)
    diff = np.abs(outputs["bf16"] - outputs["fp32"])
    # (the tiny random model amplifies rounding more than the official weights do)
    assert 0 < diff.max() <= 6 and diff.mean() < 0.5


def _batch(b: int = 3, p: int = 10, q: int = 60):
    gen = torch.Generator().manual_seed(0)
    inp = torch.rand(b, 3, p, p, generator=gen)
    coord = torch.rand(b, q, 2, generator=gen) * 2 - 1
    cell = torch.full((b, q, 2), 2 / (p * 3))
    return inp, coord, cell, torch.rand(b, q, 3, generator=gen)


def _gradients(model, name: str) -> dict[str, torch.Tensor]:
    inp, coord, cell, gt = _batch()
    model.zero_grad()
    with autocast(name, "cpu"):
        pred = TrainForward(model)(inp, coord, cell)
    assert pred.dtype == torch.float32
    per_sample_l1(pred, gt).mean().backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def test_bf16_autocast_step__gradients_follow_the_fp32_gradients(bf16_cpu):
    model = tiny_model(seed=4).train()
    exact, reduced = _gradients(model, "fp32"), _gradients(model, "bf16")
    for name, grad in exact.items():
        assert reduced[name].dtype == torch.float32  # the weights and their gradients stay fp32
        cosine = torch.nn.functional.cosine_similarity(grad.flatten(), reduced[name].flatten(), 0)
        assert cosine > 0.98, (name, float(cosine))
    assert any(not torch.equal(exact[n], reduced[n]) for n in exact)  # autocast really ran


def test_trainer__bf16_runs_keeps_fp32_weights_and_checks_the_name(tmp_path, bf16_cpu, capsys):
    data = make_image_folder(tmp_path / "data", n=6)
    cfg = tiny_train_config(max_steps=3, precision="bf16")
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    trainer.fit()
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert load_model(tmp_path / "run").dtype == torch.float32
    losses = [float(row["loss"]) for row in CsvLog(tmp_path / "run" / "log.csv", []).rows()]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert "bf16 autocast" in capsys.readouterr().out  # the recipe line says so
    with pytest.raises(ConfigError, match="precision: expected one of fp32, bf16, fp16"):
        TrainConfig(precision="fp64")


@pytest.mark.parametrize("fast_bf16, chosen", [(True, "bf16"), (False, "fp32")])
def test_trainer__auto_picks_bf16_where_it_is_fast_and_saves_the_choice(
    tmp_path, monkeypatch, fast_bf16, chosen
):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: fast_bf16)
    data = make_image_folder(tmp_path / "data", n=6)
    cfg = tiny_train_config(max_steps=1, precision="auto")
    trainer = Trainer(cfg, data, tmp_path / "run", CPU, show_progress=False)
    assert trainer.config.precision == chosen
    assert load_config(tmp_path / "run" / "config.yaml").precision == chosen


def test_trainer__bf16_refused_before_the_run_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    data = make_image_folder(tmp_path / "data", n=6)
    with pytest.raises(PrecisionError, match="neither AVX512-BF16 nor AMX"):
        Trainer(tiny_train_config(precision="bf16"), data, tmp_path / "run", CPU)
    assert not (tmp_path / "run").exists()


def test_sr_cli_train__runs_through_the_top_level_command_with_and_without_precision(tmp_path):
    data = make_image_folder(tmp_path / "data", n=6)
    config = tmp_path / "tiny.yaml"
    config.write_text(dump_config(tiny_train_config(max_steps=1)))
    for name, extra in (("default", []), ("auto", ["--precision", "auto"])):
        run = tmp_path / name
        args = ["train", "--data", str(data), "--out", str(run), "--config", str(config)]
        assert main([*args, *extra, "--quiet"]) == 0
        assert (run / "checkpoints" / "last.safetensors").is_file()
