"""What the replay towards the starting weights costs per training step (``data.replay_target``).

    .venv/bin/python benchmarks/replay_target_cost.py DATA [--steps 120] [--rounds 2]

Trains the domain recipe (``configs/finetune-domain.yaml``) for ``--steps`` steps on ``DATA``
(a folder of images or an export) twice per round, with ``replay_target: gt`` and ``start``, in
fresh processes and rounds interleaved (the order alternating), and prints each run's median
training patches/s (``log.csv``, validation excluded) and start / gt per round.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "configs" / "finetune-domain.yaml"


def patches_per_s(data: Path, target: str, work: Path, steps: int) -> float:
    """Median patches/s of one fresh ``sr train`` run with ``replay_target: target``."""
    config = yaml.safe_load(RECIPE.read_text())
    config["data"]["replay_target"] = target
    path = work / f"{target}.yaml"
    path.write_text(yaml.safe_dump(config))
    run = Path(tempfile.mkdtemp(dir=work)) / "run"
    argv = ["train", "--data", data, "--out", run, "--config", path, "--max-steps", str(steps)]
    subprocess.run([sys.executable, "-m", "sr.cli", *map(str, argv)], check=True,
                   capture_output=True, cwd=REPO)  # fmt: skip
    rows = list(csv.DictReader(open(run / "log.csv")))[2:]  # the first windows warm up
    return statistics.median(float(r["patches_per_s"]) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.rounds):
            order = ("gt", "start") if k % 2 == 0 else ("start", "gt")
            speed = {t: patches_per_s(args.data.resolve(), t, Path(tmp), args.steps) for t in order}
            print(f"round {k + 1}: gt {speed['gt']:.2f} patches/s, start {speed['start']:.2f}, "
                  f"start / gt {speed['start'] / speed['gt']:.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
