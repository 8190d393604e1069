"""torchrun with 2 processes x batch b trains exactly like 1 process x batch 2b: on one machine
(``--standalone``) and as two "nodes" that meet through a c10d rendezvous, as on a cluster."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sr.training.config import DualAugConfig, SamplerConfig, dump_config
from sr.training.logs import CsvLog
from sr.training.loop import TRAIN_COLUMNS, Trainer
from tests.sr.train_helpers import CPU, make_image_folder, tiny_train_config

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launchers(mode: str) -> list[list[str]]:
    """The torchrun command lines (one per node) that start two training processes."""
    run = [sys.executable, "-m", "torch.distributed.run"]
    if mode == "one-node":
        return [[*run, "--standalone", "--nproc_per_node", "2"]]
    # two nodes of one process each, as `docs/training.md` starts them on a cluster
    endpoint = f"127.0.0.1:{_free_port()}"
    node = ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d"]
    node += ["--rdzv_endpoint", endpoint, "--rdzv_id", "sr-test"]
    return [[*run, *node, "--node_rank", str(rank)] for rank in (0, 1)]


@pytest.mark.parametrize("mode", ["one-node", "two-nodes"])
def test_ddp__two_processes_match_one_process_with_double_batch(tmp_path, mode):
    data = make_image_folder(tmp_path / "data", n=8)
    cfg = tiny_train_config(
        max_steps=4,
        # variable batches and DualAug make the processes agree on more than plain averaging
        sampler=SamplerConfig(enabled=True, patch_sizes=(8, 12, 14), batch_multiple=2),
        dualaug=DualAugConfig(enabled=True, warmup_steps=1, lam=0.3),
    )
    config = tmp_path / "tiny.yaml"
    config.write_text(dump_config(cfg))
    single = tmp_path / "single"
    Trainer(cfg, data, single, CPU, show_progress=False).fit()

    double = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    train = ["-m", "sr.train", "--data", str(data), "--out", str(double), "--config", str(config)]
    nodes = [
        subprocess.Popen(
            [*launcher, *train, "--quiet"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for launcher in _launchers(mode)
    ]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err[-3000:]

    want = load_file(str(single / "checkpoints" / "last.safetensors"))
    got = load_file(str(double / "checkpoints" / "last.safetensors"))
    start = Trainer(cfg, data, tmp_path / "fresh", CPU, show_progress=False).model.state_dict()
    assert any((want[k] - start[k]).abs().max() > 1e-4 for k in want)  # training moved weights
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=1e-5, msg=name)
    one = CsvLog(single / "log.csv", TRAIN_COLUMNS).rows()
    two = CsvLog(double / "log.csv", TRAIN_COLUMNS).rows()
    assert [r["step"] for r in two] == ["1", "2", "3", "4"]  # rank 0 alone writes the log
    for a, b in zip(one, two, strict=True):
        assert abs(float(a["loss"]) - float(b["loss"])) < 1e-5
        assert a["rejected_fraction"] == b["rejected_fraction"]
