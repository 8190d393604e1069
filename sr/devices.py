"""``--device`` for every ``sr`` command: a torch device that exists on this machine."""

from __future__ import annotations

import argparse

import torch


def parse_device(name: str) -> torch.device:
    """``--device`` as a torch device; ValueError (one line) if it is unknown or absent here."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: not a torch device (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise ValueError(f"--device {name}: this machine has {count} CUDA device(s)")
    return device


def device_option(name: str) -> str:
    """An argparse type: the name of a device that exists here (checked before any work)."""
    try:
        parse_device(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None
    return name
