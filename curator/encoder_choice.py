"""Which encoder a workspace uses: names, where CLIP weights are, and the default. No torch here.

``curator init`` decides its default encoder from these in well under a second: the Hugging
Face cache is read directly (no model import) and the hub is probed once (``curator.hub``).
"""

from __future__ import annotations

import os
from pathlib import Path

from curator.config import DEFAULT_CLIP, FALLBACK_ENCODER
from curator.errors import CuratorError
from curator.hub import hub_reachable

CLIP_WEIGHTS_ENV = "CURATOR_CLIP_WEIGHTS"
# Where open_clip downloads DEFAULT_CLIP from (its pretrained registry; a test checks they agree),
# so the default is decided without importing open_clip and torch.
DEFAULT_CLIP_HUB_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class EncoderUnavailable(CuratorError):
    """An encoder's weights cannot be had on this machine now.

    ``reason`` says what is missing, without advice: the CLI (``str``) and the studio each add the
    way out that fits where the message appears.
    """

    def __init__(self, encoder: str, reason: str) -> None:
        self.encoder, self.reason = encoder, reason
        super().__init__(
            f"{reason}. Download the weights once with internet access (open_clip keeps them in "
            f"the Hugging Face cache, ~/.cache/huggingface/hub), or set {CLIP_WEIGHTS_ENV} to a "
            "downloaded open_clip checkpoint file, or switch the workspace to the offline "
            f"encoder: `curator embed WORKSPACE --encoder {FALLBACK_ENCODER}`"
        )


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


def _in_hub_cache(repo: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo, name), str) for name in CLIP_FILES)


def clip_weights_available(model_name: str, pretrained: str) -> bool:
    """Whether CLIP weights are on this machine already (no download needed).

    Looks in the Hugging Face cache instead of trying a load: a load on a machine without
    internet retries the hub for over a minute before it gives up.
    """
    if os.environ.get(CLIP_WEIGHTS_ENV):
        return Path(os.environ[CLIP_WEIGHTS_ENV]).is_file()
    if Path(pretrained).is_file():  # open_clip also takes a checkpoint file as the tag
        return True
    if f"open_clip:{model_name}:{pretrained}" == DEFAULT_CLIP:
        return _in_hub_cache(DEFAULT_CLIP_HUB_REPO)
    import open_clip  # other tags: their repository is in open_clip's registry

    repo = open_clip.get_pretrained_cfg(model_name, pretrained).get("hf_hub", "").strip("/")
    return bool(repo) and _in_hub_cache(repo)


def default_encoder() -> str:
    """CLIP when its weights are here or can be downloaded now, else the offline fallback."""
    _, model_name, pretrained = check_encoder_name(DEFAULT_CLIP)
    if clip_weights_available(model_name, pretrained) or hub_reachable():
        return DEFAULT_CLIP
    return FALLBACK_ENCODER
