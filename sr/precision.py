"""``--precision`` for inference and ``precision:`` for training: which float type does the maths.

``fp32`` (the default) is exact: the official weights' outputs to float rounding. ``bf16`` and
``fp16`` are opt-in reduced precision: convolutions and matmuls run in the narrow type with fp32
accumulation, which is about twice as fast where the hardware has the instructions
(``benchmarks/sr_precision.py``). bf16 needs AVX512-BF16 or AMX on a CPU, or a GPU that supports
it; fp16 is for CUDA only (CPUs have no fast fp16 matmul). Asking for a type the device cannot run
fast is refused with one line instead of silently running an emulation several times slower.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEFAULT_PRECISION = "fp32"
AUTO = "auto"  # training only: bf16 where the device runs it fast, else fp32


class PrecisionError(ValueError):
    """A precision this device cannot run (the message says why and what to use)."""


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX).

    torch has no public query for this; ``torch.cpu``'s private checks are the ones oneDNN's
    own dispatch uses, so they answer exactly "will bf16 matmuls be fast here".
    """
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def precision_dtype(name: str, device: str | torch.device = "cpu") -> torch.dtype:
    """The dtype of precision ``name`` on ``device``; PrecisionError if it cannot run there."""
    if name not in PRECISIONS:
        raise PrecisionError(f"precision {name!r}: use one of {', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if name == "bf16" and kind == "cpu" and not cpu_has_bf16():
        raise PrecisionError(
            "precision bf16: this CPU has neither AVX512-BF16 nor AMX, so bf16 would be slower "
            "than fp32 here; use fp32"
        )
    if name == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise PrecisionError("precision bf16: this GPU does not support bf16; use fp16 or fp32")
    if name == "fp16" and kind != "cuda":
        raise PrecisionError(f"precision fp16: only on CUDA devices (this is {kind}); use bf16")
    return PRECISIONS[name]


def resolve_precision(name: str, device: str | torch.device) -> str:
    """``auto`` → ``bf16`` where ``device`` runs bf16 fast, else ``fp32``; other names as given."""
    if name != AUTO:
        return name
    try:
        precision_dtype("bf16", device)
    except PrecisionError:
        return DEFAULT_PRECISION
    return "bf16"


def autocast(name: str, device: str | torch.device) -> contextlib.AbstractContextManager:
    """Autocast to precision ``name`` on ``device`` (no-op for fp32): for training steps."""
    dtype = precision_dtype(name, device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
