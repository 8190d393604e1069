"""Map-style dataset of training samples addressed by ``PatchKey`` (see ``batch_plan``)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from sr.training.augment import HeavyAugment
from sr.training.batch_plan import PatchKey
from sr.training.patch_sample import build_training_sample, sample_generator


class PatchDataset(Dataset):
    """Builds the sample of a key from in-memory uint8 images; the key fixes every random choice.

    A key marked ``replay`` crops from ``replay_images`` instead of the (domain) ``images``.
    """

    def __init__(
        self,
        images: list[torch.Tensor],
        seed: int,
        augment: bool,
        heavy: HeavyAugment | None,
        replay_images: list[torch.Tensor] | None = None,
    ) -> None:
        self.images = images
        self.replay_images = replay_images or []
        self.seed = seed
        self.augment = augment
        self.heavy = heavy

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: PatchKey) -> dict[str, torch.Tensor]:
        gen = sample_generator(self.seed, key.sample)
        heavy = self.heavy if key.heavy else None
        if key.heavy and heavy is None:
            raise ValueError("heavy sample requested but DualAug is off")
        if key.replay and not self.replay_images:
            raise ValueError("replay sample requested but there are no replay images")
        sample = build_training_sample(
            (self.replay_images if key.replay else self.images)[key.image],
            gen,
            lr_patch=key.lr_patch,
            scale_range=(key.scale_min, key.scale_max),
            sample_q=key.sample_q,
            augment=self.augment,
            heavy=heavy,
        )
        sample["sample"] = torch.tensor(key.sample)
        sample["heavy"] = torch.tensor(key.heavy)
        sample["replay"] = torch.tensor(key.replay)
        return sample


def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack samples; ``twin`` ``(B,)`` is each heavy sample's basic twin index (else -1)."""
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    pairs = list(zip(batch["sample"].tolist(), batch["heavy"].tolist(), strict=True))
    index = {n: i for i, (n, h) in enumerate(pairs) if not h}
    batch["twin"] = torch.tensor([index[n] if h else -1 for n, h in pairs])
    return batch
