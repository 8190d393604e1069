"""Run a training job that SIGKILLs itself right after a given step (for the resume test).

Usage: python train_kill_helper.py CONFIG.yaml DATA RUN KILL_AT_STEP
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch

from sr.training.config import load_config
from sr.training.distributed import ProcessInfo
from sr.training.loop import Trainer

if __name__ == "__main__":
    torch.set_num_threads(1)
    config_path, data, run, kill_at = sys.argv[1:5]

    def kill_after(info) -> None:
        if info.step == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: a real crash

    info = ProcessInfo(0, 1, torch.device("cpu"))
    trainer = Trainer(load_config(Path(config_path)), Path(data), Path(run), info, False, False)
    trainer.fit(on_step=kill_after)
