"""``sr train``, also as ``python -m sr.train`` and ``torchrun --nproc_per_node N -m sr.train``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from sr.cli_boundary import (
    EXIT_BAD_INPUT,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    fail,
    is_environment_error,
    os_error_line,
)
from sr.config_io import ConfigError
from sr.options import int_option, positive_int
from sr.precision import AUTO, PRECISIONS
from sr.training.config import MAX_SEED, load_config, with_overrides
from sr.training.recipes import resolve_config


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``sr train``."""
    parser.add_argument("--data", help="image folder or `curator export` folder")
    parser.add_argument("--out", help="new run folder (checkpoints, logs, curves)")
    parser.add_argument("--resume", metavar="RUN", help="continue a run from its last checkpoint")
    parser.add_argument(
        "--config", help="YAML file or recipe name (e.g. finetune-domain) over the paper's recipe"
    )
    parser.add_argument(
        "--max-steps", type=positive_int, help="stop after this many steps in total (≥ 1)"
    )
    parser.add_argument(
        "--seed", type=int_option(0, MAX_SEED), help="run seed (data order, patches, init)"
    )
    parser.add_argument(
        "--init", choices=["official", "none"], help="start from the official weights or scratch"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, help="global batch size (over all processes, ≥ 1)"
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument(
        "--precision",
        choices=[*PRECISIONS, AUTO],
        help="maths of the training steps: bf16 autocast is about twice as fast on CPUs with "
        "AVX512-BF16/AMX (weights, validation and checkpoints stay fp32); auto: bf16 where the "
        "device runs it fast, else fp32",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_train(args: argparse.Namespace) -> int:
    """Run ``sr train`` from parsed arguments; returns the exit code (see ``sr.cli_boundary``).

    Expected failures (bad config, missing or empty data, unwritable run folder, disk full,
    unloadable checkpoints, Ctrl-C) end with one line on stderr; anything else is a bug and
    keeps its traceback.
    """
    # Imported here, not at the top: the loop pulls in torchvision (and with it torch._dynamo,
    # ~160 MB and a second of start-up) that every other `sr` command would pay for.
    import torch

    from sr.training.distributed import init_processes, shutdown
    from sr.training.loop import TrainError, train

    if bool(args.out) == bool(args.resume):
        fail("give either --out RUN (new run) or --resume RUN")
        return EXIT_BAD_INPUT
    run = Path(args.resume or args.out)
    try:
        info = init_processes(args.device)
    except ValueError as exc:
        fail(str(exc))
        return EXIT_BAD_INPUT
    try:
        config = load_config(resolve_config(args.config) if args.config else None)
        config = with_overrides(
            config,
            max_steps=args.max_steps,
            seed=args.seed,
            init=args.init,
            precision=args.precision,
        )
        if args.batch_size is not None:
            config = replace(config, optim=replace(config.optim, batch_size=args.batch_size))
        train(
            config,
            Path(args.data) if args.data else None,
            run,
            info,
            resume=bool(args.resume),
            show_progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: checkpoints written so far are kept; continue with "
            f"`sr train --resume {run}`",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except (ConfigError, TrainError, ValueError) as exc:
        fail(str(exc))
        return EXIT_BAD_INPUT
    except OSError as exc:
        fail(os_error_line(exc))
        return EXIT_ENVIRONMENT if is_environment_error(exc) else EXIT_BAD_INPUT
    except (MemoryError, torch.cuda.OutOfMemoryError):
        fail(f"out of memory on {info.device} (try a smaller --batch-size)")
        return EXIT_ENVIRONMENT
    finally:
        shutdown(info)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sr.train``."""
    parser = argparse.ArgumentParser(prog="sr train", description="train or fine-tune LIIF-EDSR")
    add_train_arguments(parser)
    return run_train(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
